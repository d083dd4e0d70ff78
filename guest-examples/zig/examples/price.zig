//! price: a function for views, `wasmhooks.call("price", "price", input)`.
//!
//! The input is JSON such as `{"amount": 1250, "quantity": 12}`. The output is
//! `{"total":<amount * quantity>}`, less 10% (rounded down) from 10 items on, or
//! `{"error":"bad input"}` when a field is missing or not a non-negative integer.
const wh = @import("wasmhooks");

export fn price() i32 {
    const json = wh.input() catch return badInput();
    defer wh.free(json);
    const amount = wh.jsonUint(json, "amount") orelse return badInput();
    const quantity = wh.jsonUint(json, "quantity") orelse return badInput();
    var total = amount *% quantity;
    if (quantity >= 10) total = total *% 9 / 10;
    var digits: [20]u8 = undefined;
    wh.output("{\"total\":") catch return 1;
    wh.output(wh.formatUint(&digits, total)) catch return 1;
    wh.output("}") catch return 1;
    return wh.OK;
}

fn badInput() i32 {
    wh.output("{\"error\":\"bad input\"}") catch return 1;
    return wh.OK;
}
