//! wasmhooks.zig: a small Zig SDK for wasmhooks guests (host ABI v1, docs/abi.md).
//!
//! Import it with `const wh = @import("wasmhooks.zig");` (build with `--dep`/`-M`, see
//! build.sh). Importing it exports the ABI marker `wasmhooks_abi_v1`; the guest exports its
//! entry points itself, e.g. `export fn on_request() i32 { ... return wh.CONTINUE; }`.
//!
//! - Readers return `Error![]u8`: the value, allocated with `wh.allocator` (free it with
//!   `wh.free`), or `error.NotFound` when the host answers -1. Buffers grow on demand.
//! - Changers return `Error!void`: the negative statuses -1..-4 become `error.NotFound`,
//!   `error.Invalid`, `error.NotAllowed` and `error.TooLarge`.
//! - The raw imports are in `wh.raw`, with the host's own names and types.

const std = @import("std");

/// `on_request` result: let the request go on to the view.
pub const CONTINUE: i32 = 0;
/// `on_request` result: answer now with the response the guest built.
pub const RESPOND: i32 = 1;
/// Result of `on_response` and of callable functions: success.
pub const OK: i32 = 0;

/// The host's negative statuses, plus allocation failure.
pub const Error = error{
    /// -1: the header, key, parameter or value does not exist.
    NotFound,
    /// -2: bad UTF-8, bad header name or value, empty key, status out of range...
    Invalid,
    /// -3: not allowed in this phase, or no key-value store.
    NotAllowed,
    /// -4: past one of the host's limits.
    TooLarge,
    /// The guest could not allocate memory for a value.
    OutOfMemory,
    /// A status this SDK does not know.
    Unexpected,
};

/// Log levels for `log`.
pub const LogLevel = enum(i32) { debug = 0, info = 1, warning = 2, @"error" = 3 };

/// The allocator used for every value the SDK returns (WebAssembly pages).
pub const allocator: std.mem.Allocator = std.heap.wasm_allocator;

/// The ABI marker export: says "this module speaks wasmhooks ABI v1". Never called.
export fn wasmhooks_abi_v1() void {}

/// The raw host functions, imported from "wasmhooks" (see docs/abi.md, section 5).
pub const raw = struct {
    pub extern "wasmhooks" fn request_method(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_path(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_query(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_header(name: [*]const u8, name_len: usize, buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_headers(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_body(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_client_ip(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_user(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn route_param(name: [*]const u8, name_len: usize, buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn config(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn input(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn request_set_header(name: [*]const u8, name_len: usize, value: [*]const u8, value_len: usize) i32;
    pub extern "wasmhooks" fn request_remove_header(name: [*]const u8, name_len: usize) i32;
    pub extern "wasmhooks" fn context_set(key: [*]const u8, key_len: usize, value: [*]const u8, value_len: usize) i32;
    pub extern "wasmhooks" fn context_get(key: [*]const u8, key_len: usize, buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn response_set_status(status: i32) i32;
    pub extern "wasmhooks" fn response_set_body(ptr: [*]const u8, len: usize) i32;
    pub extern "wasmhooks" fn response_set_header(name: [*]const u8, name_len: usize, value: [*]const u8, value_len: usize) i32;
    pub extern "wasmhooks" fn response_add_header(name: [*]const u8, name_len: usize, value: [*]const u8, value_len: usize) i32;
    pub extern "wasmhooks" fn response_remove_header(name: [*]const u8, name_len: usize) i32;
    pub extern "wasmhooks" fn response_status() i32;
    pub extern "wasmhooks" fn response_header(name: [*]const u8, name_len: usize, buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn response_body(buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn output(ptr: [*]const u8, len: usize) i32;
    pub extern "wasmhooks" fn kv_get(key: [*]const u8, key_len: usize, buf: [*]u8, cap: usize) i32;
    pub extern "wasmhooks" fn kv_set(key: [*]const u8, key_len: usize, value: [*]const u8, value_len: usize, ttl_seconds: i32) i32;
    pub extern "wasmhooks" fn kv_incr(key: [*]const u8, key_len: usize, delta: i64) i64;
    pub extern "wasmhooks" fn kv_delete(key: [*]const u8, key_len: usize) i32;
    pub extern "wasmhooks" fn log(level: i32, ptr: [*]const u8, len: usize) void;
    pub extern "wasmhooks" fn now_ms() i64;
    pub extern "wasmhooks" fn random_bytes(buf: [*]u8, len: usize) i32;
};

// Plumbing ------------------------------------------------------------------------------

/// Turn a host status (0 or negative) into `Error!void`.
pub fn check(status: i32) Error!void {
    return switch (status) {
        0 => {},
        -1 => error.NotFound,
        -2 => error.Invalid,
        -3 => error.NotAllowed,
        -4 => error.TooLarge,
        else => error.Unexpected,
    };
}

/// A pointer the host accepts for `bytes`: an empty Zig slice may point outside memory.
fn ptr(bytes: []const u8) [*]const u8 {
    return if (bytes.len == 0) &empty_byte else bytes.ptr;
}
const empty_byte: [1]u8 = .{0};

/// Free a value returned by a reader.
pub fn free(value: []const u8) void {
    allocator.free(value);
}

/// Run a reader `f(args..., buf, cap)`: try a 256-byte buffer, retry with the full length.
fn read(comptime f: anytype, args: anytype) Error![]u8 {
    var small: [256]u8 = undefined;
    var n = @call(.auto, f, args ++ .{ @as([*]u8, &small), small.len });
    if (n < 0) {
        try check(n);
        return error.Unexpected;
    }
    var len: usize = @intCast(n);
    if (len <= small.len) return allocator.dupe(u8, small[0..len]);
    while (true) {
        const buf = try allocator.alloc(u8, len);
        n = @call(.auto, f, args ++ .{ buf.ptr, buf.len });
        if (n >= 0 and @as(usize, @intCast(n)) <= buf.len) {
            // Shrinks only if the value got shorter between the two calls.
            return allocator.realloc(buf, @intCast(n));
        }
        allocator.free(buf);
        if (n < 0) {
            try check(n);
            return error.Unexpected;
        }
        len = @intCast(n);
    }
}

// Request readers -------------------------------------------------------------------------

/// The request method, e.g. "GET".
pub fn requestMethod() Error![]u8 {
    return read(raw.request_method, .{});
}

/// The request path (percent-decoded, no query string).
pub fn requestPath() Error![]u8 {
    return read(raw.request_path, .{});
}

/// The raw query string without "?" (empty when there is none).
pub fn requestQuery() Error![]u8 {
    return read(raw.request_query, .{});
}

/// A request header's value (case-insensitive name); NotFound when absent.
pub fn requestHeader(name: []const u8) Error![]u8 {
    return read(raw.request_header, .{ ptr(name), name.len });
}

/// Every request header, each as "name: value\n", names in lower case.
pub fn requestHeaders() Error![]u8 {
    return read(raw.request_headers, .{});
}

/// The request body; TooLarge past DATA_UPLOAD_MAX_MEMORY_SIZE, NotFound if already consumed.
pub fn requestBody() Error![]u8 {
    return read(raw.request_body, .{});
}

/// The client's address (REMOTE_ADDR, empty if unset).
pub fn requestClientIp() Error![]u8 {
    return read(raw.request_client_ip, .{});
}

/// The authenticated user's username; NotFound when anonymous.
pub fn requestUser() Error![]u8 {
    return read(raw.request_user, .{});
}

/// A named group of the binding's pattern; NotFound when there is none.
pub fn routeParam(name: []const u8) Error![]u8 {
    return read(raw.route_param, .{ ptr(name), name.len });
}

/// The binding's config (or the `config=` of `wasmhooks.call`); empty when none.
pub fn config() Error![]u8 {
    return read(raw.config, .{});
}

/// The input given to `wasmhooks.call` (empty in middleware).
pub fn input() Error![]u8 {
    return read(raw.input, .{});
}

// Request changers and context ------------------------------------------------------------

/// Set (replace) a request header; NotAllowed in on_response.
pub fn requestSetHeader(name: []const u8, value: []const u8) Error!void {
    return check(raw.request_set_header(ptr(name), name.len, ptr(value), value.len));
}

/// Remove a request header; NotFound when the request has none.
pub fn requestRemoveHeader(name: []const u8) Error!void {
    return check(raw.request_remove_header(ptr(name), name.len));
}

/// Store a string in `request.wasmhooks[key]` for the view and later hooks.
pub fn contextSet(key: []const u8, value: []const u8) Error!void {
    return check(raw.context_set(ptr(key), key.len, ptr(value), value.len));
}

/// Read a request context value; NotFound when unset.
pub fn contextGet(key: []const u8) Error![]u8 {
    return read(raw.context_get, .{ ptr(key), key.len });
}

// The response ----------------------------------------------------------------------------

/// Set the response status (100..599).
pub fn responseSetStatus(status: u16) Error!void {
    return check(raw.response_set_status(status));
}

/// Replace the response body.
pub fn responseSetBody(body: []const u8) Error!void {
    return check(raw.response_set_body(ptr(body), body.len));
}

/// Set (replace every value of) a response header.
pub fn responseSetHeader(name: []const u8, value: []const u8) Error!void {
    return check(raw.response_set_header(ptr(name), name.len, ptr(value), value.len));
}

/// Append a value to a response header (Set-Cookie: one more cookie).
pub fn responseAddHeader(name: []const u8, value: []const u8) Error!void {
    return check(raw.response_add_header(ptr(name), name.len, ptr(value), value.len));
}

/// Remove a response header; NotFound when there is none.
pub fn responseRemoveHeader(name: []const u8) Error!void {
    return check(raw.response_remove_header(ptr(name), name.len));
}

/// The response status, or null when there is none yet.
pub fn responseStatus() ?u16 {
    const status = raw.response_status();
    return if (status < 0) null else @intCast(status);
}

/// A response header's value (added values joined with ", "); NotFound when absent.
pub fn responseHeader(name: []const u8) Error![]u8 {
    return read(raw.response_header, .{ ptr(name), name.len });
}

/// The response body; NotFound in wasmhooks.call and for streaming responses.
pub fn responseBody() Error![]u8 {
    return read(raw.response_body, .{});
}

/// Append bytes to what `wasmhooks.call` returns; NotAllowed in middleware.
pub fn output(bytes: []const u8) Error!void {
    return check(raw.output(ptr(bytes), bytes.len));
}

// Key-value store -------------------------------------------------------------------------

/// Read a value from the module's key-value store; NotFound when missing.
pub fn kvGet(key: []const u8) Error![]u8 {
    return read(raw.kv_get, .{ ptr(key), key.len });
}

/// Store a value; ttl_seconds 0 means no expiry.
pub fn kvSet(key: []const u8, value: []const u8, ttl_seconds: u31) Error!void {
    return check(raw.kv_set(ptr(key), key.len, ptr(value), value.len, ttl_seconds));
}

/// Add delta to a counter (missing = 0) and return the new value; traps on a bad key.
pub fn kvIncr(key: []const u8, delta: i64) i64 {
    return raw.kv_incr(ptr(key), key.len, delta);
}

/// Delete a key; NotFound when missing.
pub fn kvDelete(key: []const u8) Error!void {
    return check(raw.kv_delete(ptr(key), key.len));
}

// Logging, time and randomness ------------------------------------------------------------

/// Write a line to the Python logger `wasmhooks.guest.<module>`.
pub fn log(level: LogLevel, message: []const u8) void {
    raw.log(@intFromEnum(level), ptr(message), message.len);
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn nowMs() i64 {
    return raw.now_ms();
}

/// Fill `buf` with secure random bytes (at most 64 KiB); TooLarge past that.
pub fn randomBytes(buf: []u8) Error!void {
    if (buf.len == 0) return;
    return check(raw.random_bytes(buf.ptr, buf.len));
}

// Helpers ---------------------------------------------------------------------------------

/// Parse a decimal unsigned integer (digits only, no sign or spaces); null otherwise.
pub fn parseUint(text: []const u8) ?u64 {
    if (text.len == 0) return null;
    var n: u64 = 0;
    for (text) |c| {
        if (c < '0' or c > '9') return null;
        n = std.math.mul(u64, n, 10) catch return null;
        n = std.math.add(u64, n, c - '0') catch return null;
    }
    return n;
}

/// Write n in decimal into buf and return the digits.
pub fn formatUint(buf: *[20]u8, n: u64) []const u8 {
    var i: usize = buf.len;
    var v = n;
    while (true) {
        i -= 1;
        buf[i] = @intCast('0' + v % 10);
        v /= 10;
        if (v == 0) break;
    }
    return buf[i..];
}

fn isSpace(c: u8) bool {
    return c == ' ' or c == '\t' or c == '\n' or c == '\r';
}

/// Read a non-negative integer field `"name": 123` from a flat JSON object; null if missing,
/// not 1+ ASCII digits that fit in a u64, or not followed (after optional whitespace) by `,`
/// or `}` (so a truncated object or a missing comma is refused). A tiny hand-written reader,
/// not a JSON parser.
pub fn jsonUint(json: []const u8, name: []const u8) ?u64 {
    var i: usize = 0;
    while (i < json.len) : (i += 1) {
        if (json[i] != '"') continue;
        const start = i + 1;
        const end = start + name.len;
        if (end >= json.len or json[end] != '"' or !std.mem.eql(u8, json[start..end], name)) continue;
        var j = end + 1;
        while (j < json.len and isSpace(json[j])) j += 1;
        if (j >= json.len or json[j] != ':') continue;
        j += 1;
        while (j < json.len and isSpace(json[j])) j += 1;
        const digits = j;
        while (j < json.len and json[j] >= '0' and json[j] <= '9') j += 1;
        const value = parseUint(json[digits..j]) orelse return null;
        while (j < json.len and isSpace(json[j])) j += 1;
        if (j >= json.len or (json[j] != ',' and json[j] != '}')) return null;
        return value;
    }
    return null;
}
