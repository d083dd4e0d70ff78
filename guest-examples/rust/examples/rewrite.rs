//! rewrite: pass a route parameter to the view and prefix the response body with it.
//!
//! Bind with the pattern `^/items/(?P<item>[^/]+)/$`. on_request sets the request header
//! `X-Item` to the `item` group; on_response replaces the body with `item <item>: <body>`.
//! Without an `item` group (another pattern), on_request sets no header and on_response
//! leaves the body untouched.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

#[no_mangle]
pub extern "C" fn on_request() -> i32 {
    if let Some(item) = wasmhooks::route_param("item") {
        let _ = wasmhooks::request_set_header("X-Item", &item);
    }
    wasmhooks::CONTINUE
}

#[no_mangle]
pub extern "C" fn on_response() -> i32 {
    let item = match wasmhooks::route_param("item") {
        Some(item) => item,
        // No `item` group: leave the body alone.
        None => return wasmhooks::CONTINUE,
    };
    // None for a streaming response: leave it alone.
    if let Some(body) = wasmhooks::response_body() {
        let mut new_body = Vec::with_capacity(8 + item.len() + body.len());
        new_body.extend_from_slice(b"item ");
        new_body.extend_from_slice(item.as_bytes());
        new_body.extend_from_slice(b": ");
        new_body.extend_from_slice(&body);
        let _ = wasmhooks::response_set_body(&new_body);
    }
    wasmhooks::CONTINUE
}
