/* price: wasmhooks.call("price", "price", b'{"amount": 1250, "quantity": 12}') -> b'{"total":13500}'.
   10% off from 10 items on.
   Each field's value is 1+ ASCII digits, at most 9223372036854775807 (i64 max), followed, after
   optional whitespace, by `,` or `}`. total = amount * quantity must not pass i64 max either
   (checked as amount > INT64_MAX / quantity: __builtin_mul_overflow would need compiler-rt).
   With quantity >= 10 the result is floor(total * 9 / 10), computed without overflow as
   9 * (total / 10) + (9 * (total % 10)) / 10. Anything else answers {"error":"bad input"}. */
#include "../wasmhooks.h"

static int32_t bad_input(void) {
    wh_output(WH_S("{\"error\":\"bad input\"}"));
    return WH_SUCCESS;
}

static int32_t price(void) {
    wh_str input = wh_input();
    uint64_t amount, quantity, total;
    if (!wh_json_u64(input, WH_S("amount"), &amount) || !wh_json_u64(input, WH_S("quantity"), &quantity))
        return bad_input();
    if (amount > (uint64_t)INT64_MAX || quantity > (uint64_t)INT64_MAX) return bad_input();
    /* The overflow check of __builtin_mul_overflow, without its __multi3 call (no compiler-rt). */
    if (quantity != 0 && amount > (uint64_t)INT64_MAX / quantity) return bad_input();
    total = amount * quantity;
    if (quantity >= 10) total = 9u * (total / 10u) + (9u * (total % 10u)) / 10u;
    wh_buf out = {0};
    wh_buf_append(&out, WH_S("{\"total\":"));
    wh_buf_append_u64(&out, total);
    wh_buf_append(&out, WH_S("}"));
    wh_output(wh_buf_str(&out));
    return WH_SUCCESS;
}

WH_FUNCTION("price", price)
