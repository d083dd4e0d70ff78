"""Host ABI v1: the functions a guest imports from the module "wasmhooks".

The contract is written down in docs/abi.md. Reading functions copy at most `cap` bytes to
`buf` and return the value's full length, or -1 when there is no value. Other functions
return 0 or a negative status. A range outside guest memory traps the guest.
"""

from __future__ import annotations

import http.cookies
import logging
import os
import time

from wasmhooks.runtime import CallFrame, GuestFault, HostFunction

from .memory import GuestMemory
from .state import (
    BodyTooLarge,
    HookCall,
    NotAnInteger,
    Phase,
    valid_header_name,
    valid_header_value,
)

IMPORT_MODULE = "wasmhooks"
ABI_MARKER = "wasmhooks_abi_v1"

OK = 0
NOT_FOUND = -1
INVALID = -2
NOT_ALLOWED = -3
TOO_LARGE = -4

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_CONTEXT_BYTES = 64 * 1024
MAX_KV_KEY_BYTES = 512
MAX_KV_VALUE_BYTES = 1024 * 1024
MAX_RANDOM_BYTES = 64 * 1024
MAX_LOG_BYTES = 8 * 1024
# Per call: a guest in a loop must not make the host hold, log or store without bound.
MAX_CHANGE_BYTES = 1024 * 1024
MAX_LOG_RECORDS = 1000
MAX_KV_WRITES = 1000
MAX_KV_WRITE_BYTES = 8 * 1024 * 1024

_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _call(frame: CallFrame) -> HookCall:
    state = frame.state
    if not isinstance(state, HookCall):
        raise GuestFault("host function called outside a hook call")
    return state


def _reply(
    frame: CallFrame, buf: int, cap: int, value: bytes | str | None, memory: GuestMemory | None = None
) -> int:
    if memory is None:
        memory = GuestMemory(frame)
    if value is None:
        memory.check(buf, cap)
        return NOT_FOUND
    if isinstance(value, str):
        value = value.encode()
    return memory.write_capped(buf, cap, value)


def _text(frame: CallFrame, ptr: int, length: int) -> str | None:
    return GuestMemory(frame).read_text(ptr, length)


def _fits(call: HookCall, size: int) -> bool:
    """Whether a change of `size` bytes (unsigned lengths, checked against memory) stays within
    the call's `MAX_CHANGE_BYTES`; the caller adds it to `held_bytes` once it is made."""
    return call.held_bytes + size <= MAX_CHANGE_BYTES


def _count_kv_write(call: HookCall, size: int) -> bool:
    """Charge a write to the call's `MAX_KV_WRITES` and `MAX_KV_WRITE_BYTES`."""
    if call.kv_writes >= MAX_KV_WRITES or call.kv_written_bytes + size > MAX_KV_WRITE_BYTES:
        return False
    call.kv_writes += 1
    call.kv_written_bytes += size
    return True


# Request readers -----------------------------------------------------------------------


def request_method(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    return _reply(frame, buf, cap, request.method() if request else None)


def request_path(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    return _reply(frame, buf, cap, request.path() if request else None)


def request_query(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    return _reply(frame, buf, cap, request.query() if request else None)


def request_header(frame: CallFrame, name_ptr: int, name_len: int, buf: int, cap: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    name = memory.read_text(name_ptr, name_len)
    if call.request is None or name is None:
        return _reply(frame, buf, cap, None, memory)
    return _reply(frame, buf, cap, call.request_header(name.lower()), memory)


def request_headers(frame: CallFrame, buf: int, cap: int) -> int:
    call = _call(frame)
    if call.request is None:
        return _reply(frame, buf, cap, None)
    lines = "".join(f"{name}: {value}\n" for name, value in call.request_headers().items())
    return _reply(frame, buf, cap, lines)


def request_body(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    if request is None:
        return _reply(frame, buf, cap, None)
    try:
        body = request.body()
    except BodyTooLarge:
        GuestMemory(frame).write_capped(buf, cap, b"")
        return TOO_LARGE
    return _reply(frame, buf, cap, body)


def request_client_ip(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    return _reply(frame, buf, cap, request.client_ip() if request else None)


def request_user(frame: CallFrame, buf: int, cap: int) -> int:
    request = _call(frame).request
    return _reply(frame, buf, cap, request.user() if request else None)


def route_param(frame: CallFrame, name_ptr: int, name_len: int, buf: int, cap: int) -> int:
    call = _call(frame)
    name = _text(frame, name_ptr, name_len)
    value = call.route_params.get(name) if name is not None else None
    return _reply(frame, buf, cap, value)


def config(frame: CallFrame, buf: int, cap: int) -> int:
    return _reply(frame, buf, cap, _call(frame).config)


def input_(frame: CallFrame, buf: int, cap: int) -> int:
    return _reply(frame, buf, cap, _call(frame).input)


# Request changers and the per-request context ------------------------------------------


def request_set_header(frame: CallFrame, name_ptr: int, name_len: int, value_ptr: int, value_len: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    name_len, value_len = memory.check(name_ptr, name_len), memory.check(value_ptr, value_len)
    if call.phase is Phase.RESPONSE or call.request is None:
        return NOT_ALLOWED
    # Sizes first: nothing larger than the host would keep is read out of the guest.
    if value_len > MAX_HEADER_BYTES or not _fits(call, name_len + value_len):
        return TOO_LARGE
    name, value = memory.read_text(name_ptr, name_len), memory.read_text(value_ptr, value_len)
    if name is None or value is None or not _valid_request_header(name, value):
        return INVALID
    call.held_bytes += name_len + value_len
    call.request_header_changes[name.lower()] = (name, value)
    return OK


def request_remove_header(frame: CallFrame, name_ptr: int, name_len: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    name_len = memory.check(name_ptr, name_len)
    if call.phase is Phase.RESPONSE or call.request is None:
        return NOT_ALLOWED
    if not _fits(call, name_len):
        return TOO_LARGE
    name = memory.read_text(name_ptr, name_len)
    if name is None or not _valid_request_header(name, ""):
        return INVALID
    if call.request_header(name.lower()) is None:
        return NOT_FOUND
    call.held_bytes += name_len
    call.request_header_changes[name.lower()] = (name, None)
    return OK


def _valid_request_header(name: str, value: str) -> bool:
    # WSGI folds "-" and "_" together in header names; refuse "_" so no header can pose as another.
    return valid_header_name(name) and "_" not in name and valid_header_value(value)


def context_set(frame: CallFrame, key_ptr: int, key_len: int, value_ptr: int, value_len: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    key_len, value_len = memory.check(key_ptr, key_len), memory.check(value_ptr, value_len)
    if call.request is None:
        return NOT_ALLOWED
    if key_len + value_len > MAX_CONTEXT_BYTES or not _fits(call, key_len + value_len):
        return TOO_LARGE
    key, value = memory.read_text(key_ptr, key_len), memory.read_text(value_ptr, value_len)
    if key is None or value is None or not key:
        return INVALID
    call.held_bytes += key_len + value_len
    call.context_changes[key] = value
    return OK


def context_get(frame: CallFrame, key_ptr: int, key_len: int, buf: int, cap: int) -> int:
    call = _call(frame)
    key = _text(frame, key_ptr, key_len)
    return _reply(frame, buf, cap, call.context_value(key) if key is not None else None)


# The response ----------------------------------------------------------------------------


def response_set_status(frame: CallFrame, status: int) -> int:
    call = _call(frame)
    if call.phase is Phase.CALL:
        return NOT_ALLOWED
    if not 100 <= status <= 599:
        return INVALID
    call.response.status = status
    call.response.status_changed = True
    return OK


def response_set_body(frame: CallFrame, ptr: int, length: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    length = memory.check(ptr, length)
    if call.phase is Phase.CALL or call.response.streaming:
        return NOT_ALLOWED
    if length > MAX_BODY_BYTES:
        return TOO_LARGE
    call.response.body = memory.read(ptr, length)
    call.response.body_changed = True
    return OK


def _header_change(
    frame: CallFrame, name_ptr: int, name_len: int, value_ptr: int, value_len: int
) -> tuple[HookCall, str, str] | int:
    call = _call(frame)
    memory = GuestMemory(frame)
    name_len, value_len = memory.check(name_ptr, name_len), memory.check(value_ptr, value_len)
    if call.phase is Phase.CALL:
        return NOT_ALLOWED
    if value_len > MAX_HEADER_BYTES or not _fits(call, name_len + value_len):
        return TOO_LARGE
    name, value = memory.read_text(name_ptr, name_len), memory.read_text(value_ptr, value_len)
    if name is None or value is None or not valid_header_name(name) or not valid_header_value(value):
        return INVALID
    if name.lower() == "set-cookie" and not _one_cookie(value):
        return INVALID
    call.held_bytes += name_len + value_len
    return call, name, value


def _one_cookie(value: str) -> bool:
    """Whether a `Set-Cookie` value is exactly one cookie, as the response's cookies will load it."""
    cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    try:
        cookie.load(value)
    except http.cookies.CookieError:
        return False
    return len(cookie) == 1


def response_set_header(
    frame: CallFrame, name_ptr: int, name_len: int, value_ptr: int, value_len: int
) -> int:
    change = _header_change(frame, name_ptr, name_len, value_ptr, value_len)
    if isinstance(change, int):
        return change
    call, name, value = change
    call.response.set_header(name, value)
    return OK


def response_add_header(
    frame: CallFrame, name_ptr: int, name_len: int, value_ptr: int, value_len: int
) -> int:
    change = _header_change(frame, name_ptr, name_len, value_ptr, value_len)
    if isinstance(change, int):
        return change
    call, name, value = change
    call.response.add_header(name, value)
    return OK


def response_remove_header(frame: CallFrame, name_ptr: int, name_len: int) -> int:
    call = _call(frame)
    name = _text(frame, name_ptr, name_len)
    if call.phase is Phase.CALL:
        return NOT_ALLOWED
    if name is None or not valid_header_name(name):
        return INVALID
    return OK if call.response.remove_header(name) else NOT_FOUND


def response_status(frame: CallFrame) -> int:
    call = _call(frame)
    if call.phase is Phase.CALL or call.response.status is None:
        return NOT_FOUND
    return call.response.status


def response_header(frame: CallFrame, name_ptr: int, name_len: int, buf: int, cap: int) -> int:
    call = _call(frame)
    name = _text(frame, name_ptr, name_len)
    value = None
    if name is not None and call.phase is not Phase.CALL:
        header = call.response.headers.get(name.lower())
        value = header[1] if header else None
    return _reply(frame, buf, cap, value)


def response_body(frame: CallFrame, buf: int, cap: int) -> int:
    call = _call(frame)
    body = None if call.phase is Phase.CALL else call.response.body
    return _reply(frame, buf, cap, body)


def output(frame: CallFrame, ptr: int, length: int) -> int:
    call = _call(frame)
    memory = GuestMemory(frame)
    length = memory.check(ptr, length)
    if call.phase is not Phase.CALL:
        return NOT_ALLOWED
    if len(call.output) + length > MAX_OUTPUT_BYTES:
        return TOO_LARGE
    call.output += memory.read(ptr, length)
    return OK


# Shared key-value store ------------------------------------------------------------------


def _kv_key(frame: CallFrame, key_ptr: int, key_len: int) -> tuple[HookCall, bytes] | int:
    call = _call(frame)
    memory = GuestMemory(frame)
    key_len = memory.check(key_ptr, key_len)
    if call.kv is None:
        return NOT_ALLOWED
    if key_len > MAX_KV_KEY_BYTES:
        return TOO_LARGE
    if not key_len:
        return INVALID
    return call, memory.read(key_ptr, key_len)


def kv_get(frame: CallFrame, key_ptr: int, key_len: int, buf: int, cap: int) -> int:
    GuestMemory(frame).check(buf, cap)
    found = _kv_key(frame, key_ptr, key_len)
    if isinstance(found, int):
        return found
    call, key = found
    assert call.kv is not None
    return _reply(frame, buf, cap, call.kv.get(key))


def kv_set(
    frame: CallFrame, key_ptr: int, key_len: int, value_ptr: int, value_len: int, ttl_seconds: int
) -> int:
    memory = GuestMemory(frame)
    value_len = memory.check(value_ptr, value_len)
    found = _kv_key(frame, key_ptr, key_len)
    if isinstance(found, int):
        return found
    if value_len > MAX_KV_VALUE_BYTES:
        return TOO_LARGE
    if ttl_seconds < 0:
        return INVALID
    call, key = found
    if not _count_kv_write(call, len(key) + value_len):
        return TOO_LARGE
    value = memory.read(value_ptr, value_len)
    assert call.kv is not None
    call.kv.set(key, value, ttl_seconds)
    return OK


def kv_incr(frame: CallFrame, key_ptr: int, key_len: int, delta: int) -> int:
    # The result is the counter itself, so there is no room for a status: bad input traps.
    found = _kv_key(frame, key_ptr, key_len)
    if isinstance(found, int):
        raise GuestFault(f"kv_incr: bad key (status {found})")
    call, key = found
    if not _count_kv_write(call, len(key)):
        raise GuestFault(f"kv_incr: more than {MAX_KV_WRITES} key-value writes in one call")
    assert call.kv is not None
    try:
        value = call.kv.incr(key, delta)
    except NotAnInteger:
        raise GuestFault(f"kv_incr: the value of {key!r} is not a decimal integer") from None
    if not _I64_MIN <= value <= _I64_MAX:
        raise GuestFault(f"kv_incr: the value of {key!r} overflows i64")
    return value


def kv_delete(frame: CallFrame, key_ptr: int, key_len: int) -> int:
    found = _kv_key(frame, key_ptr, key_len)
    if isinstance(found, int):
        return found
    call, key = found
    if not _count_kv_write(call, len(key)):
        return TOO_LARGE
    assert call.kv is not None
    return OK if call.kv.delete(key) else NOT_FOUND


# Logging, time and randomness ------------------------------------------------------------


def log(frame: CallFrame, level: int, ptr: int, length: int) -> None:
    call = _call(frame)
    memory = GuestMemory(frame)
    message = memory.read(ptr, min(memory.check(ptr, length), MAX_LOG_BYTES))
    if not 0 <= level < len(_LOG_LEVELS):
        raise GuestFault(f"log: level {level} is not 0 (debug) to 3 (error)")
    call.log_records += 1
    if call.log_records > MAX_LOG_RECORDS:
        if call.log_records == MAX_LOG_RECORDS + 1:
            call.logger.warning("more than %d log lines in one call: the rest are dropped", MAX_LOG_RECORDS)
        return
    call.logger.log(_LOG_LEVELS[level], "%s", message.decode("utf-8", "replace"))


def now_ms(frame: CallFrame) -> int:
    return time.time_ns() // 1_000_000


def random_bytes(frame: CallFrame, buf: int, length: int) -> int:
    memory = GuestMemory(frame)
    length = memory.check(buf, length)
    if length > MAX_RANDOM_BYTES:
        return TOO_LARGE
    memory.write(buf, os.urandom(length))
    return OK


def _fn(name: str, params: str, results: str, impl: object) -> HostFunction:
    return HostFunction(
        IMPORT_MODULE,
        name,
        tuple(params.split()),
        tuple(results.split()),
        impl,  # type: ignore[arg-type]
    )


FUNCTIONS: tuple[HostFunction, ...] = (
    _fn("request_method", "i32 i32", "i32", request_method),
    _fn("request_path", "i32 i32", "i32", request_path),
    _fn("request_query", "i32 i32", "i32", request_query),
    _fn("request_header", "i32 i32 i32 i32", "i32", request_header),
    _fn("request_headers", "i32 i32", "i32", request_headers),
    _fn("request_body", "i32 i32", "i32", request_body),
    _fn("request_client_ip", "i32 i32", "i32", request_client_ip),
    _fn("request_user", "i32 i32", "i32", request_user),
    _fn("route_param", "i32 i32 i32 i32", "i32", route_param),
    _fn("config", "i32 i32", "i32", config),
    _fn("input", "i32 i32", "i32", input_),
    _fn("request_set_header", "i32 i32 i32 i32", "i32", request_set_header),
    _fn("request_remove_header", "i32 i32", "i32", request_remove_header),
    _fn("context_set", "i32 i32 i32 i32", "i32", context_set),
    _fn("context_get", "i32 i32 i32 i32", "i32", context_get),
    _fn("response_set_status", "i32", "i32", response_set_status),
    _fn("response_set_body", "i32 i32", "i32", response_set_body),
    _fn("response_set_header", "i32 i32 i32 i32", "i32", response_set_header),
    _fn("response_add_header", "i32 i32 i32 i32", "i32", response_add_header),
    _fn("response_remove_header", "i32 i32", "i32", response_remove_header),
    _fn("response_status", "", "i32", response_status),
    _fn("response_header", "i32 i32 i32 i32", "i32", response_header),
    _fn("response_body", "i32 i32", "i32", response_body),
    _fn("output", "i32 i32", "i32", output),
    _fn("kv_get", "i32 i32 i32 i32", "i32", kv_get),
    _fn("kv_set", "i32 i32 i32 i32 i32", "i32", kv_set),
    _fn("kv_incr", "i32 i32 i64", "i64", kv_incr),
    _fn("kv_delete", "i32 i32", "i32", kv_delete),
    _fn("log", "i32 i32 i32", "", log),
    _fn("now_ms", "", "i64", now_ms),
    _fn("random_bytes", "i32 i32", "i32", random_bytes),
)
