//! wasmhooks guest SDK for Rust (host ABI v1, see docs/abi.md).
//!
//! Include it in a guest with
//!
//! ```ignore
//! #[path = "../wasmhooks.rs"]
//! mod wasmhooks;
//! ```
//!
//! and build with `rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib`.
//! Including this file exports the ABI marker `wasmhooks_abi_v1`; the guest exports its own
//! entry points with `#[no_mangle] pub extern "C" fn on_request() -> i32` and so on.
//!
//! Written for Rust 1.63 (Debian's rustc), with no crates: only `std` (`String`, `Vec`).
//! The linker keeps only the host functions a guest calls, so its imports stay minimal.
#![allow(dead_code)]

/// `on_request`: carry on to the view (and `on_response`: carry on).
pub const CONTINUE: i32 = 0;
/// `on_request`: answer now with the response the guest built.
pub const RESPOND: i32 = 1;
/// A callable function (`wasmhooks.call`) succeeded.
pub const OK: i32 = 0;
/// A callable function failed (any non-zero result is a `HookABIError` on the host).
pub const FAILED: i32 = 1;

/// The ABI v1 marker export; never called. Including the SDK is enough to export it.
#[no_mangle]
pub extern "C" fn wasmhooks_abi_v1() {}

/// The raw host functions, exactly as the host declares them (pointers and `usize` are i32).
pub mod sys {
    #[link(wasm_import_module = "wasmhooks")]
    extern "C" {
        pub fn request_method(buf: *mut u8, cap: usize) -> i32;
        pub fn request_path(buf: *mut u8, cap: usize) -> i32;
        pub fn request_query(buf: *mut u8, cap: usize) -> i32;
        pub fn request_header(name: *const u8, name_len: usize, buf: *mut u8, cap: usize) -> i32;
        pub fn request_headers(buf: *mut u8, cap: usize) -> i32;
        pub fn request_body(buf: *mut u8, cap: usize) -> i32;
        pub fn request_client_ip(buf: *mut u8, cap: usize) -> i32;
        pub fn request_user(buf: *mut u8, cap: usize) -> i32;
        pub fn route_param(name: *const u8, name_len: usize, buf: *mut u8, cap: usize) -> i32;
        pub fn config(buf: *mut u8, cap: usize) -> i32;
        pub fn input(buf: *mut u8, cap: usize) -> i32;
        pub fn request_set_header(name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
        pub fn request_remove_header(name: *const u8, name_len: usize) -> i32;
        pub fn context_set(key: *const u8, key_len: usize, value: *const u8, value_len: usize) -> i32;
        pub fn context_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
        pub fn response_set_status(status: i32) -> i32;
        pub fn response_set_body(ptr: *const u8, len: usize) -> i32;
        pub fn response_set_header(name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
        pub fn response_add_header(name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
        pub fn response_remove_header(name: *const u8, name_len: usize) -> i32;
        pub fn response_status() -> i32;
        pub fn response_header(name: *const u8, name_len: usize, buf: *mut u8, cap: usize) -> i32;
        pub fn response_body(buf: *mut u8, cap: usize) -> i32;
        pub fn output(ptr: *const u8, len: usize) -> i32;
        pub fn kv_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
        pub fn kv_set(key: *const u8, key_len: usize, value: *const u8, value_len: usize, ttl_seconds: i32) -> i32;
        pub fn kv_incr(key: *const u8, key_len: usize, delta: i64) -> i64;
        pub fn kv_delete(key: *const u8, key_len: usize) -> i32;
        pub fn log(level: i32, ptr: *const u8, len: usize);
        pub fn now_ms() -> i64;
        pub fn random_bytes(buf: *mut u8, len: usize) -> i32;
    }
}

/// A negative status from a host function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// -1: the header, key, parameter or value does not exist.
    NotFound,
    /// -2: bad UTF-8, bad header name or value, empty key, status out of range, ...
    Invalid,
    /// -3: not allowed in this phase, or no key-value store.
    NotAllowed,
    /// -4: past one of the host's limits.
    TooLarge,
    /// Any other negative status (not used by ABI v1).
    Other(i32),
}

/// The result of a host call that can fail with a status.
pub type Result<T> = core::result::Result<T, Error>;

/// Turns a status code (0 or negative) into `Ok(())` or the matching `Error`.
pub fn check(status: i32) -> Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(Error::from_status(status))
    }
}

impl Error {
    /// The `Error` for a negative status code.
    pub fn from_status(status: i32) -> Error {
        match status {
            -1 => Error::NotFound,
            -2 => Error::Invalid,
            -3 => Error::NotAllowed,
            -4 => Error::TooLarge,
            s => Error::Other(s),
        }
    }
}

/// Calls a reader `f(buf, cap) -> len` and grows the buffer until the whole value fits.
pub fn read_with<F: FnMut(*mut u8, usize) -> i32>(mut f: F) -> Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    loop {
        let cap = buf.capacity();
        let n = f(buf.as_mut_ptr(), cap);
        if n < 0 {
            return Err(Error::from_status(n));
        }
        let n = n as usize;
        if n <= cap {
            // The host wrote exactly n bytes into the first n of cap.
            unsafe { buf.set_len(n) };
            return Ok(buf);
        }
        buf.reserve_exact(n);
    }
}

/// Bytes to a `String` (the host sends valid UTF-8 for text; anything else is replaced).
fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Reads a text value that may be missing (-1 becomes `None`).
fn read_text<F: FnMut(*mut u8, usize) -> i32>(f: F) -> Option<String> {
    read_with(f).ok().map(text)
}

// Request readers --------------------------------------------------------------------------

/// The request method, e.g. `GET`; `None` without a request.
pub fn request_method() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_method(b, c) })
}

/// The request path (percent-decoded, no query string); `None` without a request.
pub fn request_path() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_path(b, c) })
}

/// The raw query string without `?` (empty when none); `None` without a request.
pub fn request_query() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_query(b, c) })
}

/// The value of a request header (case-insensitive name); `None` when absent.
pub fn request_header(name: &str) -> Option<String> {
    read_text(|b, c| unsafe { sys::request_header(name.as_ptr(), name.len(), b, c) })
}

/// Every request header as `name: value\n` lines, names in lower case; `None` without a request.
pub fn request_headers() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_headers(b, c) })
}

/// The request body; `Err(TooLarge)` past Django's limit, `Err(NotFound)` if already consumed or no request.
pub fn request_body() -> Result<Vec<u8>> {
    read_with(|b, c| unsafe { sys::request_body(b, c) })
}

/// The client address (`REMOTE_ADDR`, empty if unset); `None` without a request.
pub fn request_client_ip() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_client_ip(b, c) })
}

/// The authenticated user's username; `None` when anonymous or without a request.
pub fn request_user() -> Option<String> {
    read_text(|b, c| unsafe { sys::request_user(b, c) })
}

/// A named group of the binding's pattern; `None` when there is no such group or it did not match.
pub fn route_param(name: &str) -> Option<String> {
    read_text(|b, c| unsafe { sys::route_param(name.as_ptr(), name.len(), b, c) })
}

/// The binding's config bytes (empty when none).
pub fn config() -> Vec<u8> {
    read_with(|b, c| unsafe { sys::config(b, c) }).unwrap_or_default()
}

/// The input given to `wasmhooks.call` (empty in middleware).
pub fn input() -> Vec<u8> {
    read_with(|b, c| unsafe { sys::input(b, c) }).unwrap_or_default()
}

// Request changers and the request context --------------------------------------------------

/// Sets (replaces) a request header for the view and later hooks (`on_request` and calls only).
pub fn request_set_header(name: &str, value: &str) -> Result<()> {
    check(unsafe { sys::request_set_header(name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Removes a request header; `Err(NotFound)` when the request has none of that name.
pub fn request_remove_header(name: &str) -> Result<()> {
    check(unsafe { sys::request_remove_header(name.as_ptr(), name.len()) })
}

/// Stores `value` under `key` in `request.wasmhooks`, the context the view and later hooks read.
pub fn context_set(key: &str, value: &str) -> Result<()> {
    check(unsafe { sys::context_set(key.as_ptr(), key.len(), value.as_ptr(), value.len()) })
}

/// Reads a context value; `None` when unset or without a request.
pub fn context_get(key: &str) -> Option<String> {
    read_text(|b, c| unsafe { sys::context_get(key.as_ptr(), key.len(), b, c) })
}

// The response -------------------------------------------------------------------------------

/// Sets the response status (100..=599).
pub fn response_set_status(status: i32) -> Result<()> {
    check(unsafe { sys::response_set_status(status) })
}

/// Replaces the response body.
pub fn response_set_body(body: &[u8]) -> Result<()> {
    check(unsafe { sys::response_set_body(body.as_ptr(), body.len()) })
}

/// Sets a response header, replacing every value it had.
pub fn response_set_header(name: &str, value: &str) -> Result<()> {
    check(unsafe { sys::response_set_header(name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Appends a value to a response header (each `Set-Cookie` value becomes its own cookie).
pub fn response_add_header(name: &str, value: &str) -> Result<()> {
    check(unsafe { sys::response_add_header(name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Removes a response header; `Err(NotFound)` when there is none of that name.
pub fn response_remove_header(name: &str) -> Result<()> {
    check(unsafe { sys::response_remove_header(name.as_ptr(), name.len()) })
}

/// The response status; `None` when there is none yet (or in `wasmhooks.call`).
pub fn response_status() -> Option<i32> {
    let s = unsafe { sys::response_status() };
    if s < 0 {
        None
    } else {
        Some(s)
    }
}

/// The value of a response header (case-insensitive name); `None` when absent.
pub fn response_header(name: &str) -> Option<String> {
    read_text(|b, c| unsafe { sys::response_header(name.as_ptr(), name.len(), b, c) })
}

/// The response body; `None` in `wasmhooks.call` and for streaming responses.
pub fn response_body() -> Option<Vec<u8>> {
    read_with(|b, c| unsafe { sys::response_body(b, c) }).ok()
}

/// Appends bytes to what `wasmhooks.call` returns (calls only).
pub fn output(data: &[u8]) -> Result<()> {
    check(unsafe { sys::output(data.as_ptr(), data.len()) })
}

// Shared key-value store -------------------------------------------------------------------

/// Reads a key; `Ok(None)` when missing, `Err` for an empty or too-long key or no store.
pub fn kv_get(key: &[u8]) -> Result<Option<Vec<u8>>> {
    match read_with(|b, c| unsafe { sys::kv_get(key.as_ptr(), key.len(), b, c) }) {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores a value; `ttl_seconds` 0 means no expiry.
pub fn kv_set(key: &[u8], value: &[u8], ttl_seconds: u32) -> Result<()> {
    let ttl = if ttl_seconds > i32::MAX as u32 { i32::MAX } else { ttl_seconds as i32 };
    check(unsafe { sys::kv_set(key.as_ptr(), key.len(), value.as_ptr(), value.len(), ttl) })
}

/// Adds `delta` to a counter (missing = 0) and returns the new value; the host traps on a bad key.
pub fn kv_incr(key: &[u8], delta: i64) -> i64 {
    unsafe { sys::kv_incr(key.as_ptr(), key.len(), delta) }
}

/// Deletes a key; `Err(NotFound)` when it was missing.
pub fn kv_delete(key: &[u8]) -> Result<()> {
    check(unsafe { sys::kv_delete(key.as_ptr(), key.len()) })
}

// Logging, time and randomness ---------------------------------------------------------------

/// Log levels for `log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
}

/// Writes a line to the Python logger `wasmhooks.guest.<module>` (cut to 8 KiB).
pub fn log(level: Level, message: &str) {
    unsafe { sys::log(level as i32, message.as_ptr(), message.len()) }
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    unsafe { sys::now_ms() }
}

/// Fills `buf` with secure random bytes (at most 64 KiB).
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    check(unsafe { sys::random_bytes(buf.as_mut_ptr(), buf.len()) })
}

// Helpers ----------------------------------------------------------------------------------

/// Formats an integer in decimal (without `format!`, to keep modules small).
pub fn itoa(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(21);
    if n < 0 {
        s.push('-');
    }
    for &d in &digits[i..] {
        s.push(d as char);
    }
    s
}

/// Formats an unsigned integer in decimal.
pub fn utoa(n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut m = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(20);
    for &d in &digits[i..] {
        s.push(d as char);
    }
    s
}

/// Parses a decimal `i64` (optional leading `-`, ASCII spaces around ignored); `None` if it is not one.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let s = trim(bytes);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg { v.checked_sub(d)? } else { v.checked_add(d)? };
    }
    Some(v)
}

/// Parses a strict non-negative decimal `i64`: one or more ASCII digits and nothing else (no
/// whitespace, no sign), at most `i64::MAX`; `None` otherwise.
pub fn parse_digits_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in bytes {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as i64)?;
    }
    Some(v)
}

/// `bytes` without leading and trailing ASCII whitespace.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = bytes.len();
    while a < b && bytes[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && bytes[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    &bytes[a..b]
}

/// Reads a non-negative integer field `"name": 123` from flat JSON; `None` if missing or not an integer.
///
/// A tiny reader, not a JSON parser: it finds the first `"name"` followed by `:` and reads the
/// digits after it, which must end at `,`, `}` or whitespace.
pub fn json_u64_field(json: &[u8], name: &str) -> Option<u64> {
    let name = name.as_bytes();
    let mut i = 0;
    while i + name.len() + 2 <= json.len() {
        let end = i + 1 + name.len();
        if json[i] == b'"' && &json[i + 1..end] == name && json[end] == b'"' {
            let mut j = end + 1;
            while j < json.len() && json[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < json.len() && json[j] == b':' {
                j += 1;
                while j < json.len() && json[j].is_ascii_whitespace() {
                    j += 1;
                }
                let start = j;
                let mut v: u64 = 0;
                while j < json.len() && json[j].is_ascii_digit() {
                    v = v.checked_mul(10)?.checked_add((json[j] - b'0') as u64)?;
                    j += 1;
                }
                if j == start {
                    return None;
                }
                if j < json.len() && !(json[j] == b',' || json[j] == b'}' || json[j].is_ascii_whitespace()) {
                    return None;
                }
                return Some(v);
            }
        }
        i += 1;
    }
    None
}

/// Reads a non-negative integer field `"name": 123` from flat JSON, strictly: the value is one
/// or more ASCII digits, at most `i64::MAX`, followed (after optional whitespace) by `,` or `}`.
/// `None` if the field is missing or its value is not such an integer.
///
/// Like `json_u64_field`, a tiny reader, not a JSON parser: it uses the first `"name"`
/// followed by `:`.
pub fn json_i64_field(json: &[u8], name: &str) -> Option<i64> {
    let name = name.as_bytes();
    let mut i = 0;
    while i + name.len() + 2 <= json.len() {
        let end = i + 1 + name.len();
        if json[i] == b'"' && &json[i + 1..end] == name && json[end] == b'"' {
            let mut j = end + 1;
            while j < json.len() && json[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < json.len() && json[j] == b':' {
                j += 1;
                while j < json.len() && json[j].is_ascii_whitespace() {
                    j += 1;
                }
                let start = j;
                while j < json.len() && json[j].is_ascii_digit() {
                    j += 1;
                }
                let v = parse_digits_i64(&json[start..j])?;
                while j < json.len() && json[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < json.len() && (json[j] == b',' || json[j] == b'}') {
                    return Some(v);
                }
                return None;
            }
        }
        i += 1;
    }
    None
}
