"""Per-call budgets: a guest looping inside its deadline cannot make the host hold, log or
store without bound. Past a budget, changers return -4, `log` drops lines (saying so once)
and `kv_incr` traps."""

from __future__ import annotations

import logging

import pytest

from tests.guests import guest
from tests.test_abi_support import HOST, Guest, MemoryKV, Phase, hook_call, invoke, place, probe
from wasmhooks.abi import v1, wasi
from wasmhooks.runtime import GuestInstance, HookABIError, Limits

GUEST_LOGGER = "wasmhooks.guest.budget"


def test_a_guest_setting_context_in_a_loop_is_stopped_at_the_change_budget():
    value = 60_000
    # Each round sets "k" to 60,000 bytes; returns how many rounds succeeded before -4.
    wasm = guest(
        f"""
(func (export "probe") (result i32) (local $rounds i32)
  (block $done
    (loop $again
      (br_if $done (i32.ne {invoke("context_set", 0, 1, 16, value)} (i32.const 0)))
      (local.set $rounds (i32.add (local.get $rounds) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $rounds) (i32.const 1000)))))
  (local.get $rounds))""",
        data={0: "k"},
        memory_pages=2,
    )
    call = hook_call()
    rounds = Guest(wasm, call)()
    assert rounds == v1.MAX_CHANGE_BYTES // (1 + value)
    assert call.held_bytes <= v1.MAX_CHANGE_BYTES


@pytest.mark.parametrize(
    ("function", "texts", "phase"),
    [
        ("request_set_header", ("X-A", "1"), Phase.REQUEST),
        ("context_set", ("k", "v"), Phase.REQUEST),
        ("response_set_header", ("X-A", "1"), Phase.REQUEST),
        ("response_add_header", ("X-A", "1"), Phase.RESPONSE),
    ],
)
def test_every_changer_is_charged_and_refused_past_the_budget(monkeypatch, function, texts, phase):
    monkeypatch.setattr(v1, "MAX_CHANGE_BYTES", 2 * sum(len(text) for text in texts))
    data, ranges = place(*texts)
    args = [number for pair in ranges for number in pair]
    call = hook_call(phase)
    assert probe(function, *args, call=call, data=data).result == v1.OK
    assert probe(function, *args, call=call, data=data).result == v1.OK
    assert probe(function, *args, call=call, data=data).result == v1.TOO_LARGE


def test_removing_a_request_header_is_charged_too(monkeypatch):
    monkeypatch.setattr(v1, "MAX_CHANGE_BYTES", len("Accept"))
    data, [name] = place("Accept")
    call = hook_call()  # its request has an Accept header
    assert probe("request_remove_header", *name, call=call, data=data).result == v1.OK
    call.request_header_changes.clear()  # the header is back, the budget is spent
    assert probe("request_remove_header", *name, call=call, data=data).result == v1.TOO_LARGE


def test_log_lines_past_the_budget_are_dropped_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(v1, "MAX_LOG_RECORDS", 2)
    caplog.set_level(logging.DEBUG, logger=GUEST_LOGGER)
    data, [message] = place("line")
    call = hook_call(logger=logging.getLogger(GUEST_LOGGER))
    for _ in range(5):
        probe("log", 1, *message, call=call, data=data)
    assert [record.getMessage() for record in caplog.records] == [
        "line",
        "line",
        "more than 2 log lines in one call: the rest are dropped",
    ]


def test_key_value_writes_past_the_count_budget_are_refused(monkeypatch):
    monkeypatch.setattr(v1, "MAX_KV_WRITES", 2)
    data, [key, value] = place("k", "1")
    call = hook_call(kv=MemoryKV())
    assert probe("kv_set", *key, *value, 0, call=call, data=data).result == v1.OK
    assert probe("kv_delete", *key, call=call, data=data).result == v1.OK
    assert probe("kv_set", *key, *value, 0, call=call, data=data).result == v1.TOO_LARGE
    assert probe("kv_delete", *key, call=call, data=data).result == v1.TOO_LARGE
    with pytest.raises(HookABIError, match="more than 2 key-value writes"):
        probe("kv_incr", *key, 1, call=call, data=data)


def test_key_value_writes_past_the_byte_budget_are_refused(monkeypatch):
    monkeypatch.setattr(v1, "MAX_KV_WRITE_BYTES", 5)
    data, [key, value] = place("k", "1234")
    call = hook_call(kv=MemoryKV())
    assert probe("kv_set", *key, *value, 0, call=call, data=data).result == v1.OK
    assert probe("kv_set", *key, *value, 0, call=call, data=data).result == v1.TOO_LARGE
    assert call.kv_written_bytes == 5


# Lengths of 2 GiB and more: negative as i32, and never read before they are found too large.

HUGE = 0x80000000
BIG = Limits(timeout_ms=2000, memory_bytes=4096 * 1024 * 1024)


@pytest.mark.parametrize(
    ("function", "arguments"),
    [
        ("response_set_header", (16, 6, 1024, HUGE)),
        ("response_add_header", (16, 6, 1024, HUGE)),
        ("request_set_header", (16, 6, 1024, HUGE)),
        ("request_remove_header", (1024, HUGE)),
        ("context_set", (16, 6, 1024, HUGE)),
    ],
)
def test_changes_of_2_gib_are_too_large_and_never_read(function, arguments):
    as_i32 = [argument - 2**32 if argument >= 2**31 else argument for argument in arguments]
    body = f"""(func (export "probe") (result i32)
      (if (i32.eq (memory.grow (i32.const 32769)) (i32.const -1)) (then unreachable))
      {invoke(function, *as_i32)})"""
    call = hook_call()
    instance = GuestInstance(
        HOST.linker, HOST.compile(guest(body, data={16: "X-Name"})), BIG, wasi.sandbox_config, "mod", call
    )
    assert instance.call("probe", BIG, call) == v1.TOO_LARGE
    assert (call.held_bytes, call.response.operations, call.request_header_changes, call.context_changes) == (
        0,
        [],
        {},
        {},
    )
