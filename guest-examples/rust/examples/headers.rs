//! headers: add security headers to every response and hide the `Server` header.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

#[no_mangle]
pub extern "C" fn on_response() -> i32 {
    let _ = wasmhooks::response_set_header("X-Frame-Options", "DENY");
    let _ = wasmhooks::response_set_header("X-Content-Type-Options", "nosniff");
    // Err(NotFound) when the response has no Server header: nothing to do then.
    let _ = wasmhooks::response_remove_header("Server");
    wasmhooks::CONTINUE
}
