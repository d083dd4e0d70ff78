/* api-key: let a request through only with an X-Api-Key header listed in the config ("k1,k2").
   An empty X-Api-Key value never matches, and neither does an empty entry of the config
   (config "", "k1,,k2", "k1,k2," or ",k1"). */
#include "../wasmhooks.h"

static bool key_is_valid(void) {
    wh_str key;
    if (wh_request_header(WH_S("X-Api-Key"), &key) != WH_OK || key.len == 0) return false;
    wh_str rest = wh_config(), valid;
    while (wh_str_split_next(&rest, ',', &valid))
        if (valid.len != 0 && wh_str_eq(key, valid)) return true;
    return false;
}

static int32_t check_key(void) {
    if (key_is_valid()) return WH_CONTINUE;
    wh_response_set_status(401);
    wh_response_set_header(WH_S("Content-Type"), WH_S("application/json"));
    wh_response_set_body(WH_S("{\"error\":\"missing or invalid API key\"}"));
    return WH_RESPOND;
}

WH_ON_REQUEST(check_key)
