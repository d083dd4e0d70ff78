//! api-key: refuse requests without a valid `X-Api-Key` header.
//!
//! The binding's config is a comma-separated list of valid keys (`k1,k2`). When the request
//! header `X-Api-Key` equals one of them exactly, the request goes on (CONTINUE). Otherwise
//! the hook answers 401 with `{"error":"missing or invalid API key"}` (RESPOND). Empty
//! entries in the list never match, so an empty config refuses every request.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

/// Compares two byte strings without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for i in 0..a.len() {
        diff |= a[i] ^ b[i];
    }
    diff == 0
}

#[no_mangle]
pub extern "C" fn on_request() -> i32 {
    if let Some(key) = wasmhooks::request_header("X-Api-Key") {
        let config = wasmhooks::config();
        let mut valid = false;
        for candidate in config.split(|&c| c == b',') {
            if !candidate.is_empty() && same(candidate, key.as_bytes()) {
                valid = true;
            }
        }
        if valid {
            return wasmhooks::CONTINUE;
        }
    }
    // Constant, valid arguments: these cannot fail.
    let _ = wasmhooks::response_set_status(401);
    let _ = wasmhooks::response_set_header("Content-Type", "application/json");
    let _ = wasmhooks::response_set_body(br#"{"error":"missing or invalid API key"}"#);
    wasmhooks::RESPOND
}
