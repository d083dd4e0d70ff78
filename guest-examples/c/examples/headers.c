/* headers: add security headers to every response and drop Server. */
#include "../wasmhooks.h"

static int32_t secure_headers(void) {
    wh_response_set_header(WH_S("X-Frame-Options"), WH_S("DENY"));
    wh_response_set_header(WH_S("X-Content-Type-Options"), WH_S("nosniff"));
    wh_response_remove_header(WH_S("Server")); /* WH_NOT_FOUND when there is none: fine */
    return WH_CONTINUE;
}

WH_ON_RESPONSE(secure_headers)
