/* flash-sale: admit the first N requests (N = config), answer 429 "sold out" after that. */
#include "../wasmhooks.h"

static int32_t admit(void) {
    int64_t limit = 0;
    wh_parse_i64(wh_config(), &limit); /* a config that is not a number admits no one */
    int64_t n = wh_kv_incr(WH_S("flash-sale:admitted"), 1);
    if (n > limit) {
        wh_response_set_status(429);
        wh_response_set_header(WH_S("Content-Type"), WH_S("text/plain; charset=utf-8"));
        wh_response_set_body(WH_S("sold out\n"));
        return WH_RESPOND;
    }
    wh_buf text = {0};
    wh_buf_append_i64(&text, n);
    wh_context_set(WH_S("admission"), wh_buf_str(&text));
    return WH_CONTINUE;
}

WH_ON_REQUEST(admit)
