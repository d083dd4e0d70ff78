/* price: wasmhooks.call("price", "price", b'{"amount": 1250, "quantity": 12}') -> b'{"total":13500}'.
   10% off from 10 items on. */
#include "../wasmhooks.h"

static int32_t price(void) {
    wh_str input = wh_input();
    uint64_t amount, quantity;
    if (!wh_json_u64(input, WH_S("amount"), &amount) || !wh_json_u64(input, WH_S("quantity"), &quantity)) {
        wh_output(WH_S("{\"error\":\"bad input\"}"));
        return WH_SUCCESS;
    }
    uint64_t total = amount * quantity;
    if (quantity >= 10) total = total * 9u / 10u;
    wh_buf out = {0};
    wh_buf_append(&out, WH_S("{\"total\":"));
    wh_buf_append_u64(&out, total);
    wh_buf_append(&out, WH_S("}"));
    wh_output(wh_buf_str(&out));
    return WH_SUCCESS;
}

WH_FUNCTION("price", price)
