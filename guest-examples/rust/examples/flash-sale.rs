//! flash-sale: admit only the first N requests, N being the binding's config.
//!
//! Each request increments the shared counter `flash-sale:admitted`. Up to N, the request goes
//! on with its admission number in the context (`request.wasmhooks["admission"]`); after that
//! the hook answers 429 `sold out`. N is the config only when it is one or more ASCII digits
//! and nothing else (no whitespace, no sign) and at most i64::MAX; any other config (`" 2"`,
//! `"2\n"`, `"+2"`, `"-1"`, `"two"`, empty, too large) counts as 0, so every request is sold out.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

#[no_mangle]
pub extern "C" fn on_request() -> i32 {
    let limit = wasmhooks::parse_digits_i64(&wasmhooks::config()).unwrap_or(0);
    let n = wasmhooks::kv_incr(b"flash-sale:admitted", 1);
    if n > limit {
        let _ = wasmhooks::response_set_status(429);
        let _ = wasmhooks::response_set_header("Content-Type", "text/plain; charset=utf-8");
        let _ = wasmhooks::response_set_body(b"sold out\n");
        return wasmhooks::RESPOND;
    }
    let _ = wasmhooks::context_set("admission", &wasmhooks::itoa(n));
    wasmhooks::CONTINUE
}
