//! flash-sale: admit only the first N requests.
//!
//! N is the binding's config, a decimal integer. Each request increments the counter
//! `flash-sale:admitted`; past N it is answered with 429 and `sold out\n`. Admitted requests
//! get their number in the request context: `request.wasmhooks["admission"]`.
//! A config that is not a decimal integer admits nobody.
const wh = @import("wasmhooks");

export fn on_request() i32 {
    const text = wh.config() catch return soldOut();
    const limit = wh.parseUint(text) orelse 0;
    wh.free(text);
    const n = wh.kvIncr("flash-sale:admitted", 1);
    if (n < 0 or @as(u64, @intCast(n)) > limit) return soldOut();
    var digits: [20]u8 = undefined;
    wh.contextSet("admission", wh.formatUint(&digits, @intCast(n))) catch {};
    return wh.CONTINUE;
}

fn soldOut() i32 {
    wh.responseSetStatus(429) catch {};
    wh.responseSetHeader("Content-Type", "text/plain; charset=utf-8") catch {};
    wh.responseSetBody("sold out\n") catch {};
    return wh.RESPOND;
}
