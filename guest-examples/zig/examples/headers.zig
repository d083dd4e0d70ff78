//! headers: security headers on every response.
//!
//! on_response sets `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`, and
//! removes the `Server` header.
const wh = @import("wasmhooks");

export fn on_response() i32 {
    wh.responseSetHeader("X-Frame-Options", "DENY") catch {};
    wh.responseSetHeader("X-Content-Type-Options", "nosniff") catch {};
    // NotFound when the response has no Server header: nothing to do.
    wh.responseRemoveHeader("Server") catch {};
    return wh.OK;
}
