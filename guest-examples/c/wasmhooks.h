/*
 * wasmhooks.h: a header-only C SDK for wasmhooks guests (host ABI v1, docs/abi.md).
 *
 * Freestanding: no libc, no WASI. Build with
 *   python -m ziglang cc --target=wasm32-freestanding -nostdlib -O2 -Wl,--no-entry guest.c
 *
 * Strings are (ptr, len) slices (`wh_str`), never NUL-terminated. Functions that can fail
 * return a `wh_status` (WH_OK or a negative status) instead of raw numbers; readers store
 * the value in `*out`, growing their buffer on demand. Memory comes from a bump allocator
 * that the entry-point macros (WH_ON_REQUEST, WH_ON_RESPONSE, WH_FUNCTION) reset at the
 * start of every call, so nothing allocated survives a call.
 *
 * Include this header in exactly one C file per module (it defines the ABI marker export).
 */
#ifndef WASMHOOKS_H
#define WASMHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Basic types ----------------------------------------------------------------------- */

/* A byte string: `len` bytes at `ptr`, not NUL-terminated. */
typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} wh_str;

/* Status of a host call: WH_OK or one of the negative statuses of docs/abi.md section 3. */
typedef enum {
    WH_OK = 0,
    WH_NOT_FOUND = -1,   /* the header, key, parameter or value does not exist */
    WH_INVALID = -2,     /* bad UTF-8, bad header name/value, bad status, empty key, ... */
    WH_NOT_ALLOWED = -3, /* no meaning in this phase, or no key-value store */
    WH_TOO_LARGE = -4,   /* past a limit of docs/abi.md section 6 */
} wh_status;

/* What an entry point returns. */
enum {
    WH_CONTINUE = 0, /* on_request / on_response: go on */
    WH_RESPOND = 1,  /* on_request: answer now with the response this guest built */
    WH_SUCCESS = 0,  /* callable functions: success */
};

/* Log levels for wh_log. */
typedef enum { WH_DEBUG = 0, WH_INFO = 1, WH_WARNING = 2, WH_ERROR = 3 } wh_log_level;

/* A wh_str from a string literal: WH_S("X-Api-Key"). */
#define WH_S(lit) ((wh_str){(const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1)})

/* ---- Exports: the ABI marker and entry points ------------------------------------------ */

/* Export a function under `name`. */
#define WH_EXPORT(name) __attribute__((export_name(name)))

/* The ABI v1 marker export; never called. Weak, so a second definition does no harm. */
__attribute__((export_name("wasmhooks_abi_v1"), weak)) void wasmhooks_abi_v1(void) {}

/* ---- Raw host functions (import module "wasmhooks"), one per ABI v1 function ----------- */

__attribute__((import_module("wasmhooks"), import_name("request_method"))) int32_t wh_raw_request_method(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_path"))) int32_t wh_raw_request_path(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_query"))) int32_t wh_raw_request_query(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_header"))) int32_t wh_raw_request_header(const uint8_t *name, uint32_t name_len, uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_headers"))) int32_t wh_raw_request_headers(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_body"))) int32_t wh_raw_request_body(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_client_ip"))) int32_t wh_raw_request_client_ip(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_user"))) int32_t wh_raw_request_user(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("route_param"))) int32_t wh_raw_route_param(const uint8_t *name, uint32_t name_len, uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("config"))) int32_t wh_raw_config(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("input"))) int32_t wh_raw_input(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("request_set_header"))) int32_t wh_raw_request_set_header(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
__attribute__((import_module("wasmhooks"), import_name("request_remove_header"))) int32_t wh_raw_request_remove_header(const uint8_t *name, uint32_t name_len);
__attribute__((import_module("wasmhooks"), import_name("context_set"))) int32_t wh_raw_context_set(const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len);
__attribute__((import_module("wasmhooks"), import_name("context_get"))) int32_t wh_raw_context_get(const uint8_t *key, uint32_t key_len, uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("response_set_status"))) int32_t wh_raw_response_set_status(int32_t status);
__attribute__((import_module("wasmhooks"), import_name("response_set_body"))) int32_t wh_raw_response_set_body(const uint8_t *ptr, uint32_t len);
__attribute__((import_module("wasmhooks"), import_name("response_set_header"))) int32_t wh_raw_response_set_header(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
__attribute__((import_module("wasmhooks"), import_name("response_add_header"))) int32_t wh_raw_response_add_header(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
__attribute__((import_module("wasmhooks"), import_name("response_remove_header"))) int32_t wh_raw_response_remove_header(const uint8_t *name, uint32_t name_len);
__attribute__((import_module("wasmhooks"), import_name("response_status"))) int32_t wh_raw_response_status(void);
__attribute__((import_module("wasmhooks"), import_name("response_header"))) int32_t wh_raw_response_header(const uint8_t *name, uint32_t name_len, uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("response_body"))) int32_t wh_raw_response_body(uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("output"))) int32_t wh_raw_output(const uint8_t *ptr, uint32_t len);
__attribute__((import_module("wasmhooks"), import_name("kv_get"))) int32_t wh_raw_kv_get(const uint8_t *key, uint32_t key_len, uint8_t *buf, uint32_t cap);
__attribute__((import_module("wasmhooks"), import_name("kv_set"))) int32_t wh_raw_kv_set(const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len, uint32_t ttl_seconds);
__attribute__((import_module("wasmhooks"), import_name("kv_incr"))) int64_t wh_raw_kv_incr(const uint8_t *key, uint32_t key_len, int64_t delta);
__attribute__((import_module("wasmhooks"), import_name("kv_delete"))) int32_t wh_raw_kv_delete(const uint8_t *key, uint32_t key_len);
__attribute__((import_module("wasmhooks"), import_name("log"))) void wh_raw_log(int32_t level, const uint8_t *ptr, uint32_t len);
__attribute__((import_module("wasmhooks"), import_name("now_ms"))) int64_t wh_raw_now_ms(void);
__attribute__((import_module("wasmhooks"), import_name("random_bytes"))) int32_t wh_raw_random_bytes(uint8_t *buf, uint32_t len);

/* ---- Memory: a bump allocator over memory.grow, reset at the start of every call -------- */

extern unsigned char __heap_base;
static uintptr_t wh__heap_top;

/* Free everything wh_alloc gave out (the entry-point macros call this for you). */
static inline void wh_reset(void) { wh__heap_top = (uintptr_t)&__heap_base; }

/* Allocate `n` bytes, 8-byte aligned, growing memory as needed; traps when memory is refused. */
static void *wh_alloc(uint32_t n) {
    if (!wh__heap_top) wh_reset();
    uint64_t start = ((uint64_t)wh__heap_top + 7u) & ~(uint64_t)7u;
    uint64_t end = start + n;
    uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uint64_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) __builtin_trap();
    }
    wh__heap_top = (uintptr_t)end;
    return (void *)(uintptr_t)start;
}

/* Copy `n` bytes from `src` to `dst` (the regions must not overlap). */
static inline void wh_copy(void *dst, const void *src, uint32_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    while (n--) *d++ = *s++;
}

/* ---- String helpers ------------------------------------------------------------------- */

/* A wh_str over a NUL-terminated C string. */
static inline wh_str wh_cstr(const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    return (wh_str){(const uint8_t *)s, n};
}

/* Whether two strings have the same bytes. */
static inline bool wh_str_eq(wh_str a, wh_str b) {
    if (a.len != b.len) return false;
    for (uint32_t i = 0; i < a.len; i++)
        if (a.ptr[i] != b.ptr[i]) return false;
    return true;
}

/* Take the next `sep`-separated piece of `*rest` into `*piece`; false when nothing is left. */
static inline bool wh_str_split_next(wh_str *rest, uint8_t sep, wh_str *piece) {
    if (rest->ptr == NULL) return false;
    uint32_t i = 0;
    while (i < rest->len && rest->ptr[i] != sep) i++;
    *piece = (wh_str){rest->ptr, i};
    if (i < rest->len) *rest = (wh_str){rest->ptr + i + 1, rest->len - i - 1};
    else *rest = (wh_str){NULL, 0};
    return true;
}

/* Parse all of `s` as an unsigned decimal integer; false if empty, not digits, or > UINT64_MAX. */
static inline bool wh_parse_u64(wh_str s, uint64_t *out) {
    if (s.len == 0) return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c < '0' || c > '9') return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10u) return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

/* Parse all of `s` as a signed decimal integer (optional leading '-'); false if malformed. */
static inline bool wh_parse_i64(wh_str s, int64_t *out) {
    bool neg = s.len > 0 && s.ptr[0] == '-';
    uint64_t v;
    if (!wh_parse_u64(neg ? (wh_str){s.ptr + 1, s.len - 1} : s, &v)) return false;
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) return false;
    *out = neg ? (int64_t)(0u - v) : (int64_t)v;
    return true;
}

/* A growable byte buffer on the bump allocator, for building bodies and outputs. */
typedef struct {
    uint8_t *ptr;
    uint32_t len, cap;
} wh_buf;

/* Make sure `b` has room for `extra` more bytes; traps when that would pass UINT32_MAX bytes.
   The sizes are computed in uint64_t, so neither the sum nor the doubling can wrap around. */
static inline void wh_buf_reserve(wh_buf *b, uint32_t extra) {
    uint64_t need = (uint64_t)b->len + extra;
    if (need <= b->cap) return;
    if (need > UINT32_MAX) __builtin_trap();
    uint64_t cap = b->cap ? (uint64_t)b->cap * 2u : 64u;
    while (cap < need) cap *= 2u;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    uint8_t *p = (uint8_t *)wh_alloc((uint32_t)cap);
    if (b->len) wh_copy(p, b->ptr, b->len);
    b->ptr = p;
    b->cap = (uint32_t)cap;
}

/* Append the bytes of `s` to `b`. */
static inline void wh_buf_append(wh_buf *b, wh_str s) {
    wh_buf_reserve(b, s.len);
    wh_copy(b->ptr + b->len, s.ptr, s.len);
    b->len += s.len;
}

/* Append `v` in decimal to `b`. */
static inline void wh_buf_append_u64(wh_buf *b, uint64_t v) {
    uint8_t digits[20];
    uint32_t n = 0;
    do {
        digits[19 - n++] = (uint8_t)('0' + v % 10u);
        v /= 10u;
    } while (v);
    wh_buf_append(b, (wh_str){digits + 20 - n, n});
}

/* Append `v` in decimal (with '-' when negative) to `b`. */
static inline void wh_buf_append_i64(wh_buf *b, int64_t v) {
    if (v < 0) {
        wh_buf_append(b, WH_S("-"));
        wh_buf_append_u64(b, 0u - (uint64_t)v);
    } else {
        wh_buf_append_u64(b, (uint64_t)v);
    }
}

/* The contents of `b` as a wh_str. */
static inline wh_str wh_buf_str(const wh_buf *b) { return (wh_str){b->ptr, b->len}; }

/* Find the non-negative integer field `"name": 123` in a flat JSON object (no JSON library).
   The value must be 1+ ASCII digits (at most UINT64_MAX) followed, after optional whitespace,
   by `,` or `}`; otherwise (truncated input, a missing comma, -5, 1.5, "5") it returns false. */
static inline bool wh_json_u64(wh_str json, wh_str name, uint64_t *out) {
    for (uint32_t i = 0; i + name.len + 2 <= json.len; i++) {
        if (json.ptr[i] != '"' || json.ptr[i + name.len + 1] != '"') continue;
        if (!wh_str_eq((wh_str){json.ptr + i + 1, name.len}, name)) continue;
        uint32_t j = i + name.len + 2;
        while (j < json.len && (json.ptr[j] == ' ' || json.ptr[j] == '\t' || json.ptr[j] == '\n' || json.ptr[j] == '\r')) j++;
        if (j >= json.len || json.ptr[j] != ':') continue; /* a string value, not this key */
        j++;
        while (j < json.len && (json.ptr[j] == ' ' || json.ptr[j] == '\t' || json.ptr[j] == '\n' || json.ptr[j] == '\r')) j++;
        uint32_t start = j;
        while (j < json.len && json.ptr[j] >= '0' && json.ptr[j] <= '9') j++;
        uint32_t end = j;
        while (j < json.len && (json.ptr[j] == ' ' || json.ptr[j] == '\t' || json.ptr[j] == '\n' || json.ptr[j] == '\r')) j++;
        if (j >= json.len || (json.ptr[j] != ',' && json.ptr[j] != '}')) return false;
        return wh_parse_u64((wh_str){json.ptr + start, end - start}, out);
    }
    return false;
}

/* ---- Readers: values copied into a buffer grown on demand ------------------------------ */

#ifndef WH_READ_INITIAL_CAP
#define WH_READ_INITIAL_CAP 256u
#endif

enum {
    WH__REQUEST_METHOD, WH__REQUEST_PATH, WH__REQUEST_QUERY, WH__REQUEST_HEADER,
    WH__REQUEST_HEADERS, WH__REQUEST_BODY, WH__REQUEST_CLIENT_IP, WH__REQUEST_USER,
    WH__ROUTE_PARAM, WH__CONFIG, WH__INPUT, WH__CONTEXT_GET, WH__RESPONSE_HEADER,
    WH__RESPONSE_BODY, WH__KV_GET,
};

static int32_t wh__raw_read(int which, wh_str arg, uint8_t *buf, uint32_t cap) {
    switch (which) {
    case WH__REQUEST_METHOD: return wh_raw_request_method(buf, cap);
    case WH__REQUEST_PATH: return wh_raw_request_path(buf, cap);
    case WH__REQUEST_QUERY: return wh_raw_request_query(buf, cap);
    case WH__REQUEST_HEADER: return wh_raw_request_header(arg.ptr, arg.len, buf, cap);
    case WH__REQUEST_HEADERS: return wh_raw_request_headers(buf, cap);
    case WH__REQUEST_BODY: return wh_raw_request_body(buf, cap);
    case WH__REQUEST_CLIENT_IP: return wh_raw_request_client_ip(buf, cap);
    case WH__REQUEST_USER: return wh_raw_request_user(buf, cap);
    case WH__ROUTE_PARAM: return wh_raw_route_param(arg.ptr, arg.len, buf, cap);
    case WH__CONFIG: return wh_raw_config(buf, cap);
    case WH__INPUT: return wh_raw_input(buf, cap);
    case WH__CONTEXT_GET: return wh_raw_context_get(arg.ptr, arg.len, buf, cap);
    case WH__RESPONSE_HEADER: return wh_raw_response_header(arg.ptr, arg.len, buf, cap);
    case WH__RESPONSE_BODY: return wh_raw_response_body(buf, cap);
    default: return wh_raw_kv_get(arg.ptr, arg.len, buf, cap);
    }
}

/* Call a reader with a buffer; if the value is longer, grow the buffer and call again. */
static wh_status wh__read(int which, wh_str arg, wh_str *out) {
    uint32_t cap = WH_READ_INITIAL_CAP;
    uint8_t *buf = (uint8_t *)wh_alloc(cap);
    for (;;) {
        int32_t n = wh__raw_read(which, arg, buf, cap);
        if (n < 0) {
            *out = (wh_str){NULL, 0};
            return (wh_status)n;
        }
        if ((uint32_t)n <= cap) {
            *out = (wh_str){buf, (uint32_t)n};
            return WH_OK;
        }
        cap = (uint32_t)n;
        buf = (uint8_t *)wh_alloc(cap);
    }
}

/* ---- Request readers ------------------------------------------------------------------- */

/* The request method, e.g. "GET"; WH_NOT_FOUND without a request. */
static inline wh_status wh_request_method(wh_str *out) { return wh__read(WH__REQUEST_METHOD, (wh_str){0}, out); }
/* The request path (percent-decoded, no query); WH_NOT_FOUND without a request. */
static inline wh_status wh_request_path(wh_str *out) { return wh__read(WH__REQUEST_PATH, (wh_str){0}, out); }
/* The raw query string without '?' (empty when none); WH_NOT_FOUND without a request. */
static inline wh_status wh_request_query(wh_str *out) { return wh__read(WH__REQUEST_QUERY, (wh_str){0}, out); }
/* A request header's value (case-insensitive name); WH_NOT_FOUND when absent. */
static inline wh_status wh_request_header(wh_str name, wh_str *out) { return wh__read(WH__REQUEST_HEADER, name, out); }
/* Every request header as "name: value\n" lines, names in lower case. */
static inline wh_status wh_request_headers(wh_str *out) { return wh__read(WH__REQUEST_HEADERS, (wh_str){0}, out); }
/* The request body; WH_TOO_LARGE past Django's limit, WH_NOT_FOUND when already consumed. */
static inline wh_status wh_request_body(wh_str *out) { return wh__read(WH__REQUEST_BODY, (wh_str){0}, out); }
/* The client address (REMOTE_ADDR, empty if unset). */
static inline wh_status wh_request_client_ip(wh_str *out) { return wh__read(WH__REQUEST_CLIENT_IP, (wh_str){0}, out); }
/* The authenticated user's username; WH_NOT_FOUND when anonymous. */
static inline wh_status wh_request_user(wh_str *out) { return wh__read(WH__REQUEST_USER, (wh_str){0}, out); }
/* A named group of the binding's pattern; WH_NOT_FOUND when there is none. */
static inline wh_status wh_route_param(wh_str name, wh_str *out) { return wh__read(WH__ROUTE_PARAM, name, out); }
/* The binding's config (or the config= of wasmhooks.call); empty when none. */
static inline wh_str wh_config(void) { wh_str s; wh__read(WH__CONFIG, (wh_str){0}, &s); return s; }
/* The input given to wasmhooks.call (empty in middleware). */
static inline wh_str wh_input(void) { wh_str s; wh__read(WH__INPUT, (wh_str){0}, &s); return s; }

/* ---- Request changers and the request context ------------------------------------------ */

/* Set (replace) a request header for the view and later hooks. */
static inline wh_status wh_request_set_header(wh_str name, wh_str value) { return (wh_status)wh_raw_request_set_header(name.ptr, name.len, value.ptr, value.len); }
/* Remove a request header; WH_NOT_FOUND when the request has none. */
static inline wh_status wh_request_remove_header(wh_str name) { return (wh_status)wh_raw_request_remove_header(name.ptr, name.len); }
/* Store a string in request.wasmhooks[key] for the view and later hooks. */
static inline wh_status wh_context_set(wh_str key, wh_str value) { return (wh_status)wh_raw_context_set(key.ptr, key.len, value.ptr, value.len); }
/* Read request.wasmhooks[key]; WH_NOT_FOUND when unset. */
static inline wh_status wh_context_get(wh_str key, wh_str *out) { return wh__read(WH__CONTEXT_GET, key, out); }

/* ---- The response ---------------------------------------------------------------------- */

/* Set the response status (100..599). */
static inline wh_status wh_response_set_status(int32_t status) { return (wh_status)wh_raw_response_set_status(status); }
/* Replace the response body. */
static inline wh_status wh_response_set_body(wh_str body) { return (wh_status)wh_raw_response_set_body(body.ptr, body.len); }
/* Set (replace every value of) a response header. */
static inline wh_status wh_response_set_header(wh_str name, wh_str value) { return (wh_status)wh_raw_response_set_header(name.ptr, name.len, value.ptr, value.len); }
/* Append a value to a response header (Set-Cookie: one more cookie). */
static inline wh_status wh_response_add_header(wh_str name, wh_str value) { return (wh_status)wh_raw_response_add_header(name.ptr, name.len, value.ptr, value.len); }
/* Remove a response header; WH_NOT_FOUND when there is none. */
static inline wh_status wh_response_remove_header(wh_str name) { return (wh_status)wh_raw_response_remove_header(name.ptr, name.len); }
/* The response status in `*out`; WH_NOT_FOUND when none is set yet. */
static inline wh_status wh_response_status(int32_t *out) {
    int32_t s = wh_raw_response_status();
    if (s < 0) return WH_NOT_FOUND;
    *out = s;
    return WH_OK;
}
/* A response header's value (added values joined with ", "); WH_NOT_FOUND when absent. */
static inline wh_status wh_response_header(wh_str name, wh_str *out) { return wh__read(WH__RESPONSE_HEADER, name, out); }
/* The response body; WH_NOT_FOUND in wasmhooks.call and for streaming responses. */
static inline wh_status wh_response_body(wh_str *out) { return wh__read(WH__RESPONSE_BODY, (wh_str){0}, out); }
/* Append bytes to what wasmhooks.call returns (callable functions only). */
static inline wh_status wh_output(wh_str data) { return (wh_status)wh_raw_output(data.ptr, data.len); }

/* ---- Shared key-value store (keys namespaced by module) -------------------------------- */

/* Read a value; WH_NOT_FOUND when missing. */
static inline wh_status wh_kv_get(wh_str key, wh_str *out) { return wh__read(WH__KV_GET, key, out); }
/* Store a value; ttl_seconds 0 means no expiry. */
static inline wh_status wh_kv_set(wh_str key, wh_str value, uint32_t ttl_seconds) { return (wh_status)wh_raw_kv_set(key.ptr, key.len, value.ptr, value.len, ttl_seconds); }
/* Add `delta` to a counter (missing = 0) and return the new value; traps on a bad key or value. */
static inline int64_t wh_kv_incr(wh_str key, int64_t delta) { return wh_raw_kv_incr(key.ptr, key.len, delta); }
/* Delete a key; WH_NOT_FOUND when missing. */
static inline wh_status wh_kv_delete(wh_str key) { return (wh_status)wh_raw_kv_delete(key.ptr, key.len); }

/* ---- Logging, time and randomness ------------------------------------------------------ */

/* Log a message to the Python logger wasmhooks.guest.<module>. */
static inline void wh_log(wh_log_level level, wh_str message) { wh_raw_log((int32_t)level, message.ptr, message.len); }
/* Wall-clock time in milliseconds since the Unix epoch. */
static inline int64_t wh_now_ms(void) { return wh_raw_now_ms(); }
/* Fill `len` bytes at `buf` with secure random bytes; WH_TOO_LARGE past 64 KiB. */
static inline wh_status wh_random_bytes(void *buf, uint32_t len) { return (wh_status)wh_raw_random_bytes((uint8_t *)buf, len); }

/* ---- Entry points: each resets the allocator, then runs `fn` (returning int32_t) -------- */

/* Export `fn` as on_request (return WH_CONTINUE or WH_RESPOND). */
#define WH_ON_REQUEST(fn) \
    WH_EXPORT("on_request") int32_t wh__on_request(void) { wh_reset(); return (fn)(); }
/* Export `fn` as on_response (return WH_CONTINUE). */
#define WH_ON_RESPONSE(fn) \
    WH_EXPORT("on_response") int32_t wh__on_response(void) { wh_reset(); return (fn)(); }
/* Export `fn` as a callable function named `name` for wasmhooks.call (return WH_SUCCESS). */
#define WH_FUNCTION(name, fn) \
    WH_EXPORT(name) int32_t wh__fn_##fn(void) { wh_reset(); return (fn)(); }

#endif /* WASMHOOKS_H */
