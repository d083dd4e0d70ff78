// wasmhooks SDK for AssemblyScript: host ABI v1 (docs/abi.md).
//
// Import what you need in an example and re-export the ABI marker:
//
//     import { CONTINUE, requestHeader } from "../sdk/wasmhooks";
//     export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";
//     export function on_request(): i32 { ... return CONTINUE; }
//
// Strings go in and out as AssemblyScript strings (UTF-8 on the wire), bytes as Uint8Array.
// Readers return null when the value does not exist (the reason is in lastStatus()); changers
// return a Status (Status.Ok = 0). Readers first try a 1 KiB scratch buffer and, when the
// host says the value is longer, allocate a buffer of the full length and read again.
//
// Build with `--use abort=sdk/wasmhooks/abort` so no `env.abort` import is left.

// ---------------------------------------------------------------------------------------
// Entry points, statuses, log levels
// ---------------------------------------------------------------------------------------

/** on_request: let the request go on to the view (also: success of every other entry point). */
export const CONTINUE: i32 = 0;
/** on_request: answer now with the response this guest built. */
export const RESPOND: i32 = 1;

/** The statuses host functions return (docs/abi.md section 3). */
export enum Status {
  Ok = 0,
  NotFound = -1,
  Invalid = -2,
  NotAllowed = -3,
  TooLarge = -4,
}

/** Levels for log(). */
export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warning = 2,
  Error = 3,
}

/** The ABI v1 marker every module must export: `export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";`. */
export function wasmhooks_abi_v1(): void {}

/** Abort handler used with `--use abort=sdk/wasmhooks/abort`: logs the message at error level and traps. */
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message !== null ? message : "") + " at " + (fileName !== null ? fileName : "?") +
    ":" + line.toString() + ":" + column.toString();
  let utf8 = String.UTF8.encode(text);
  _log(LogLevel.Error, changetype<usize>(utf8), utf8.byteLength);
  unreachable();
}

// ---------------------------------------------------------------------------------------
// The raw host functions (import module "wasmhooks")
// ---------------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasmhooks", "request_method")
declare function _request_method(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_path")
declare function _request_path(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_query")
declare function _request_query(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_header")
declare function _request_header(namePtr: usize, nameLen: i32, buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_headers")
declare function _request_headers(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_body")
declare function _request_body(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_client_ip")
declare function _request_client_ip(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_user")
declare function _request_user(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "route_param")
declare function _route_param(namePtr: usize, nameLen: i32, buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "config")
declare function _config(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "input")
declare function _input(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_set_header")
declare function _request_set_header(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "request_remove_header")
declare function _request_remove_header(namePtr: usize, nameLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "context_set")
declare function _context_set(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "context_get")
declare function _context_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_set_status")
declare function _response_set_status(status: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_set_body")
declare function _response_set_body(ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_set_header")
declare function _response_set_header(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_add_header")
declare function _response_add_header(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_remove_header")
declare function _response_remove_header(namePtr: usize, nameLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_status")
declare function _response_status(): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_header")
declare function _response_header(namePtr: usize, nameLen: i32, buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "response_body")
declare function _response_body(buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "output")
declare function _output(ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "kv_get")
declare function _kv_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "kv_set")
declare function _kv_set(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32, ttlSeconds: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "kv_incr")
declare function _kv_incr(keyPtr: usize, keyLen: i32, delta: i64): i64;
// @ts-ignore: decorator
@external("wasmhooks", "kv_delete")
declare function _kv_delete(keyPtr: usize, keyLen: i32): i32;
// @ts-ignore: decorator
@external("wasmhooks", "log")
declare function _log(level: i32, ptr: usize, len: i32): void;
// @ts-ignore: decorator
@external("wasmhooks", "now_ms")
declare function _now_ms(): i64;
// @ts-ignore: decorator
@external("wasmhooks", "random_bytes")
declare function _random_bytes(buf: usize, len: i32): i32;

// ---------------------------------------------------------------------------------------
// Internals: UTF-8 arguments and the grow-on-demand reader
// ---------------------------------------------------------------------------------------

const SCRATCH_CAP: i32 = 1024;
const scratch: usize = memory.data(1024, 16);

let _lastStatus: i32 = 0;
// The (ptr, len) of the name or key argument of the reader being run (kept alive by the caller).
let argPtr: usize = 0;
let argLen: i32 = 0;

type Reader = (buf: usize, cap: i32) => i32;

/** Status of the last reader: Status.Ok, or why it returned null (NotFound, TooLarge, ...). */
export function lastStatus(): Status {
  return _lastStatus;
}

// @ts-ignore: decorator
@inline function ptrOf(buf: ArrayBuffer): usize {
  return changetype<usize>(buf);
}

// @ts-ignore: decorator
@inline function utf8(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

// Calls a reader with the scratch buffer, then, if the value is longer, with a buffer of its
// full length; null (and _lastStatus set) on a negative result.
function readBuffer(fn: Reader): ArrayBuffer | null {
  let len = fn(scratch, SCRATCH_CAP);
  if (len < 0) {
    _lastStatus = len;
    return null;
  }
  _lastStatus = Status.Ok;
  let out = new ArrayBuffer(len);
  if (len <= SCRATCH_CAP) {
    memory.copy(ptrOf(out), scratch, <usize>len);
    return out;
  }
  while (true) {
    let cap = out.byteLength;
    len = fn(ptrOf(out), cap);
    if (len < 0) {
      _lastStatus = len;
      return null;
    }
    if (len == cap) return out;
    if (len < cap) return out.slice(0, len);
    out = new ArrayBuffer(len); // the value grew between the calls: try again
  }
}

function readString(fn: Reader): string | null {
  let buf = readBuffer(fn);
  return buf === null ? null : String.UTF8.decode(buf);
}

function readBytes(fn: Reader): Uint8Array | null {
  let buf = readBuffer(fn);
  return buf === null ? null : Uint8Array.wrap(buf);
}

// Readers that take a name: the name's UTF-8 is passed through argPtr/argLen.
function readNamedString(name: ArrayBuffer, fn: Reader): string | null {
  argPtr = ptrOf(name);
  argLen = name.byteLength;
  let value = readString(fn);
  argPtr = 0;
  return value;
}

function readNamedBytes(name: ArrayBuffer, fn: Reader): Uint8Array | null {
  argPtr = ptrOf(name);
  argLen = name.byteLength;
  let value = readBytes(fn);
  argPtr = 0;
  return value;
}

// ---------------------------------------------------------------------------------------
// Request readers
// ---------------------------------------------------------------------------------------

/** The request method (e.g. "GET"); null without a request. */
export function requestMethod(): string | null {
  return readString((b: usize, c: i32): i32 => _request_method(b, c));
}

/** The request path (percent-decoded, no query string); null without a request. */
export function requestPath(): string | null {
  return readString((b: usize, c: i32): i32 => _request_path(b, c));
}

/** The raw query string without "?" ("" when none); null without a request. */
export function requestQuery(): string | null {
  return readString((b: usize, c: i32): i32 => _request_query(b, c));
}

/** A request header's value (case-insensitive name); null when absent. */
export function requestHeader(name: string): string | null {
  return readNamedString(utf8(name), (b: usize, c: i32): i32 => _request_header(argPtr, argLen, b, c));
}

/** Every request header as "name: value\n" lines, names in lower case; null without a request. */
export function requestHeaders(): string | null {
  return readString((b: usize, c: i32): i32 => _request_headers(b, c));
}

/** The request body; null without a request, when consumed (NotFound) or too large (TooLarge). */
export function requestBody(): Uint8Array | null {
  return readBytes((b: usize, c: i32): i32 => _request_body(b, c));
}

/** The request body decoded as UTF-8; null as for requestBody(). */
export function requestBodyString(): string | null {
  return readString((b: usize, c: i32): i32 => _request_body(b, c));
}

/** The client's address (REMOTE_ADDR, "" if unset); null without a request. */
export function requestClientIp(): string | null {
  return readString((b: usize, c: i32): i32 => _request_client_ip(b, c));
}

/** The authenticated user's username; null when anonymous or without a request. */
export function requestUser(): string | null {
  return readString((b: usize, c: i32): i32 => _request_user(b, c));
}

/** A named group of the binding's pattern; null when there is none or it did not match. */
export function routeParam(name: string): string | null {
  return readNamedString(utf8(name), (b: usize, c: i32): i32 => _route_param(argPtr, argLen, b, c));
}

/** The binding's config as a string ("" when none). */
export function config(): string {
  let value = readString((b: usize, c: i32): i32 => _config(b, c));
  return value === null ? "" : value;
}

/** The binding's config as bytes (empty when none). */
export function configBytes(): Uint8Array {
  let value = readBytes((b: usize, c: i32): i32 => _config(b, c));
  return value === null ? new Uint8Array(0) : value;
}

/** The input given to wasmhooks.call, as a string ("" in middleware). */
export function input(): string {
  let value = readString((b: usize, c: i32): i32 => _input(b, c));
  return value === null ? "" : value;
}

/** The input given to wasmhooks.call, as bytes (empty in middleware). */
export function inputBytes(): Uint8Array {
  let value = readBytes((b: usize, c: i32): i32 => _input(b, c));
  return value === null ? new Uint8Array(0) : value;
}

// ---------------------------------------------------------------------------------------
// Request changers and the request context
// ---------------------------------------------------------------------------------------

/** Sets (replaces) a request header for the view and later hooks (on_request / call only). */
export function requestSetHeader(name: string, value: string): Status {
  let n = utf8(name), v = utf8(value);
  return _request_set_header(ptrOf(n), n.byteLength, ptrOf(v), v.byteLength);
}

/** Removes a request header (NotFound when the request has none). */
export function requestRemoveHeader(name: string): Status {
  let n = utf8(name);
  return _request_remove_header(ptrOf(n), n.byteLength);
}

/** Stores a value in request.wasmhooks[key] for the view and later hooks. */
export function contextSet(key: string, value: string): Status {
  let k = utf8(key), v = utf8(value);
  return _context_set(ptrOf(k), k.byteLength, ptrOf(v), v.byteLength);
}

/** Reads request.wasmhooks[key]; null when unset or without a request. */
export function contextGet(key: string): string | null {
  return readNamedString(utf8(key), (b: usize, c: i32): i32 => _context_get(argPtr, argLen, b, c));
}

// ---------------------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------------------

/** Sets the response status (100..599). */
export function responseSetStatus(status: i32): Status {
  return _response_set_status(status);
}

/** Sets the response body from a string (UTF-8). */
export function responseSetBody(body: string): Status {
  let b = utf8(body);
  return _response_set_body(ptrOf(b), b.byteLength);
}

/** Sets the response body from bytes. */
export function responseSetBodyBytes(body: Uint8Array): Status {
  return _response_set_body(body.dataStart, body.byteLength);
}

/** Sets (replaces every value of) a response header. */
export function responseSetHeader(name: string, value: string): Status {
  let n = utf8(name), v = utf8(value);
  return _response_set_header(ptrOf(n), n.byteLength, ptrOf(v), v.byteLength);
}

/** Appends a value to a response header (Set-Cookie: one more cookie). */
export function responseAddHeader(name: string, value: string): Status {
  let n = utf8(name), v = utf8(value);
  return _response_add_header(ptrOf(n), n.byteLength, ptrOf(v), v.byteLength);
}

/** Removes a response header (NotFound when there is none to remove). */
export function responseRemoveHeader(name: string): Status {
  let n = utf8(name);
  return _response_remove_header(ptrOf(n), n.byteLength);
}

/** The response status, or 0 when there is none yet (on_request before a set, or a call). */
export function responseStatus(): i32 {
  let status = _response_status();
  return status < 0 ? 0 : status;
}

/** A response header's value (added values joined with ", "); null when absent. */
export function responseHeader(name: string): string | null {
  return readNamedString(utf8(name), (b: usize, c: i32): i32 => _response_header(argPtr, argLen, b, c));
}

/** The response body as bytes; null in a call or for a streaming response. */
export function responseBody(): Uint8Array | null {
  return readBytes((b: usize, c: i32): i32 => _response_body(b, c));
}

/** The response body decoded as UTF-8; null as for responseBody(). */
export function responseBodyString(): string | null {
  return readString((b: usize, c: i32): i32 => _response_body(b, c));
}

/** Appends a string (UTF-8) to what wasmhooks.call returns. */
export function output(text: string): Status {
  let b = utf8(text);
  return _output(ptrOf(b), b.byteLength);
}

/** Appends bytes to what wasmhooks.call returns. */
export function outputBytes(data: Uint8Array): Status {
  return _output(data.dataStart, data.byteLength);
}

// ---------------------------------------------------------------------------------------
// Shared key-value store (keys are namespaced per module by the host)
// ---------------------------------------------------------------------------------------

/** A stored value as bytes; null when missing (or on another status, see lastStatus()). */
export function kvGet(key: string): Uint8Array | null {
  return readNamedBytes(utf8(key), (b: usize, c: i32): i32 => _kv_get(argPtr, argLen, b, c));
}

/** A stored value decoded as UTF-8; null as for kvGet(). */
export function kvGetString(key: string): string | null {
  let value = kvGet(key);
  return value === null ? null : String.UTF8.decode(value.buffer);
}

/** Stores a string (UTF-8) under key; ttlSeconds 0 = no expiry. */
export function kvSet(key: string, value: string, ttlSeconds: i32 = 0): Status {
  let k = utf8(key), v = utf8(value);
  return _kv_set(ptrOf(k), k.byteLength, ptrOf(v), v.byteLength, ttlSeconds);
}

/** Stores bytes under key; ttlSeconds 0 = no expiry. */
export function kvSetBytes(key: string, value: Uint8Array, ttlSeconds: i32 = 0): Status {
  let k = utf8(key);
  return _kv_set(ptrOf(k), k.byteLength, value.dataStart, value.byteLength, ttlSeconds);
}

/** Adds delta to a counter (missing = 0) and returns the new value; traps on a bad key or value. */
export function kvIncr(key: string, delta: i64 = 1): i64 {
  let k = utf8(key);
  return _kv_incr(ptrOf(k), k.byteLength, delta);
}

/** Deletes a key (NotFound when missing). */
export function kvDelete(key: string): Status {
  let k = utf8(key);
  return _kv_delete(ptrOf(k), k.byteLength);
}

// ---------------------------------------------------------------------------------------
// Logging, time and randomness
// ---------------------------------------------------------------------------------------

/** Writes a line to the logger wasmhooks.guest.<module> at the given level. */
export function log(level: LogLevel, message: string): void {
  let m = utf8(message);
  _log(level, ptrOf(m), m.byteLength);
}

/** log() at debug level. */
export function logDebug(message: string): void { log(LogLevel.Debug, message); }
/** log() at info level. */
export function logInfo(message: string): void { log(LogLevel.Info, message); }
/** log() at warning level. */
export function logWarning(message: string): void { log(LogLevel.Warning, message); }
/** log() at error level. */
export function logError(message: string): void { log(LogLevel.Error, message); }

/** Wall-clock time in milliseconds since the Unix epoch. */
export function nowMs(): i64 {
  return _now_ms();
}

/** `length` bytes from the host's secure random source; null past MAX_RANDOM_BYTES (64 KiB). */
export function randomBytes(length: i32): Uint8Array | null {
  let out = new Uint8Array(length);
  let status = _random_bytes(out.dataStart, length);
  _lastStatus = status;
  return status < 0 ? null : out;
}

// ---------------------------------------------------------------------------------------
// Helpers: decimal numbers and a minimal JSON field reader
// ---------------------------------------------------------------------------------------

/** Parses a whole string of ASCII digits as a non-negative i64; -1 when empty, not digits or past i64. */
export function parseUint(text: string): i64 {
  return parseDigits(text, 0, text.length);
}

// Digits text[start..end) as a non-negative i64; -1 when empty, not all digits or overflowing.
function parseDigits(text: string, start: i32, end: i32): i64 {
  if (start >= end) return -1;
  let value: i64 = 0;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    let digit = <i64>(c - 48);
    if (value > (i64.MAX_VALUE - digit) / 10) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function isJsonSpace(c: i32): bool {
  return c == 32 || c == 9 || c == 10 || c == 13;
}

/**
 * The value of `"field": <digits>` in a JSON object, as a non-negative i64; -1 when the field
 * is missing or its value is not a non-negative integer. No JSON library: keys are matched
 * byte for byte (no unescaping), and the first matching key wins.
 */
export function jsonUint(json: string, field: string): i64 {
  let n = json.length;
  let i = 0;
  while (i < n) {
    if (json.charCodeAt(i) != 34) { // not a '"': skip
      i++;
      continue;
    }
    // A string: find its end, skipping escapes.
    let start = i + 1;
    let j = start;
    while (j < n && json.charCodeAt(j) != 34) j += json.charCodeAt(j) == 92 ? 2 : 1;
    if (j >= n) return -1;
    let end = j;
    i = j + 1;
    // A key is a string followed by ':'.
    let k = i;
    while (k < n && isJsonSpace(json.charCodeAt(k))) k++;
    if (k >= n || json.charCodeAt(k) != 58) continue;
    if (end - start != field.length || json.substring(start, end) != field) continue;
    // The value: digits, then whitespace, then ',' or '}'.
    k++;
    while (k < n && isJsonSpace(json.charCodeAt(k))) k++;
    let digitsStart = k;
    while (k < n && json.charCodeAt(k) >= 48 && json.charCodeAt(k) <= 57) k++;
    let digitsEnd = k;
    while (k < n && isJsonSpace(json.charCodeAt(k))) k++;
    if (k >= n || (json.charCodeAt(k) != 44 && json.charCodeAt(k) != 125)) return -1;
    return parseDigits(json, digitsStart, digitsEnd);
  }
  return -1;
}
