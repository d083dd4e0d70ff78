/* rewrite: pass the route's item to the view as X-Item, and prefix the response body with it.
   Bind with the pattern ^/items/(?P<item>[^/]+)/$ */
#include "../wasmhooks.h"

static int32_t tag_request(void) {
    wh_str item;
    if (wh_route_param(WH_S("item"), &item) == WH_OK)
        wh_request_set_header(WH_S("X-Item"), item);
    return WH_CONTINUE;
}

static int32_t prefix_body(void) {
    wh_str item, body;
    if (wh_route_param(WH_S("item"), &item) != WH_OK) return WH_CONTINUE;
    if (wh_response_body(&body) != WH_OK) return WH_CONTINUE; /* streaming response */
    wh_buf out = {0};
    wh_buf_append(&out, WH_S("item "));
    wh_buf_append(&out, item);
    wh_buf_append(&out, WH_S(": "));
    wh_buf_append(&out, body);
    wh_response_set_body(wh_buf_str(&out));
    return WH_CONTINUE;
}

WH_ON_REQUEST(tag_request)
WH_ON_RESPONSE(prefix_body)
