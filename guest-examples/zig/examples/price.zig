//! price: a function for views, `wasmhooks.call("price", "price", input)`.
//!
//! The input is JSON such as `{"amount": 1250, "quantity": 12}`. Each field's value must be
//! 1+ ASCII digits, at most 9223372036854775807 (i64 max), followed after optional whitespace
//! by `,` or `}`. The output is `{"total":<amount * quantity>}`, less 10% (rounded down) from
//! 10 items on, or `{"error":"bad input"}` when a field is missing or malformed, or when
//! amount * quantity exceeds i64 max. The discount, floor(total * 9 / 10), is computed as
//! `9 * (total / 10) + 9 * (total % 10) / 10` so that it cannot overflow.
const std = @import("std");
const wh = @import("wasmhooks");

const i64_max: u64 = std.math.maxInt(i64);

export fn price() i32 {
    const json = wh.input() catch return badInput();
    defer wh.free(json);
    const amount = wh.jsonUint(json, "amount") orelse return badInput();
    const quantity = wh.jsonUint(json, "quantity") orelse return badInput();
    if (amount > i64_max or quantity > i64_max) return badInput();
    var total = std.math.mul(u64, amount, quantity) catch return badInput();
    if (total > i64_max) return badInput();
    if (quantity >= 10) total = 9 * (total / 10) + (9 * (total % 10)) / 10;
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
