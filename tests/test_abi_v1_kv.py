"""ABI v1 key-value functions, over an in-memory store (namespacing belongs to the Django layer)."""

from __future__ import annotations

import re

import pytest

from tests.guests import guest
from tests.test_abi_support import BUF, Guest, MemoryKV, hook_call, invoke, place, probe
from wasmhooks.abi import Phase, v1
from wasmhooks.runtime import HookABIError

I64_MAX = 2**63 - 1


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch):
    monkeypatch.setattr(v1, "MAX_KV_KEY_BYTES", 8)
    monkeypatch.setattr(v1, "MAX_KV_VALUE_BYTES", 8)


def run_kv(function: str, *args: int | bytes | str, kv: MemoryKV | None) -> int | None:
    """Call `function` in a CALL-phase probe; bytes or str arguments become a (ptr, len) pair."""
    strings = [arg for arg in args if not isinstance(arg, int)]
    data, ranges = place(*strings)
    flat: list[int] = []
    for arg in args:
        flat.extend(ranges.pop(0) if not isinstance(arg, int) else (arg,))
    return probe(function, *flat, call=hook_call(Phase.CALL, kv=kv), data=data).result


@pytest.mark.parametrize("phase", list(Phase))
def test_kv_set_then_kv_get_round_trips_a_value(phase):
    kv = MemoryKV()
    data, [key, value] = place("hits", b"\x00\xffok")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("kv_set", *key, *value, 0)})
      {invoke("kv_get", *key, BUF, 16)})"""
    runner = Guest(guest(body, data=data), hook_call(phase, kv=kv))
    assert runner() == 4
    assert runner.read(BUF, 5) == b"\x00\xffok\x00"
    assert kv.data == {b"hits": b"\x00\xffok"}


def test_kv_get_of_a_missing_key_returns_minus_one_and_writes_nothing():
    data, [key] = place("nope")
    runner = probe("kv_get", *key, BUF, 8, call=hook_call(kv=MemoryKV()), data=data)
    assert runner.result == v1.NOT_FOUND
    assert runner.read(BUF, 8) == bytes(8)


def test_kv_get_with_a_small_cap_returns_the_full_length():
    data, [key] = place("k")
    runner = probe("kv_get", *key, BUF, 2, call=hook_call(kv=MemoryKV({b"k": b"value"})), data=data)
    assert runner.result == 5
    assert runner.read(BUF, 3) == b"va\0"


@pytest.mark.parametrize("ttl", [0, 60])
def test_kv_set_passes_the_ttl_through(ttl):
    kv = MemoryKV()
    assert run_kv("kv_set", "k", "v", ttl, kv=kv) == v1.OK
    assert (kv.data, kv.ttls) == ({b"k": b"v"}, {b"k": ttl})


@pytest.mark.parametrize(
    ("key", "value", "ttl", "expected"),
    [
        ("k", "v", -1, v1.INVALID),
        ("", "v", 0, v1.INVALID),
        ("k" * 9, "v", 0, v1.TOO_LARGE),
        ("k", "v" * 9, 0, v1.TOO_LARGE),
    ],
    ids=["negative-ttl", "empty-key", "long-key", "long-value"],
)
def test_kv_set_refuses_bad_arguments(key, value, ttl, expected):
    kv = MemoryKV()
    assert run_kv("kv_set", key, value, ttl, kv=kv) == expected
    assert kv.data == {}


def test_kv_set_accepts_limits_exactly_and_an_empty_value():
    kv = MemoryKV()
    assert run_kv("kv_set", "k" * 8, "v" * 8, 0, kv=kv) == v1.OK
    assert run_kv("kv_set", "e", "", 0, kv=kv) == v1.OK
    assert kv.data == {b"k" * 8: b"v" * 8, b"e": b""}


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("kv_get", ("k", BUF, 8)),
        ("kv_set", ("k", "v", 0)),
        ("kv_delete", ("k",)),
    ],
)
@pytest.mark.parametrize(
    ("key", "store", "expected"),
    [("k", False, v1.NOT_ALLOWED), ("", True, v1.INVALID), ("k" * 9, True, v1.TOO_LARGE)],
    ids=["no-store", "empty-key", "long-key"],
)
def test_kv_functions_report_a_missing_store_or_a_bad_key(function, args, key, store, expected):
    kv = MemoryKV({b"k": b"v"}) if store else None
    assert run_kv(function, key, *args[1:], kv=kv) == expected
    assert kv is None or kv.data == {b"k": b"v"}


@pytest.mark.parametrize(("stored", "expected"), [({b"k": b"v"}, v1.OK), ({}, v1.NOT_FOUND)])
def test_kv_delete_removes_the_key_or_returns_minus_one(stored, expected):
    kv = MemoryKV(stored)
    assert run_kv("kv_delete", "k", kv=kv) == expected
    assert kv.data == {}


@pytest.mark.parametrize(
    ("stored", "delta", "expected"),
    [({}, 5, 5), ({b"n": b"41"}, 1, 42), ({b"n": b"3"}, -10, -7), ({b"n": b"0"}, 2**40, 2**40)],
)
def test_kv_incr_adds_to_the_counter_and_kv_get_reads_it_as_decimal(stored, delta, expected):
    kv = MemoryKV(stored)
    data, [key] = place("n")
    body = f"""(func (export "probe") (result i32)
      (i64.store (i32.const 0) {invoke("kv_incr", *key, delta)})
      {invoke("kv_get", *key, BUF, 32)})"""
    runner = Guest(guest(body, data=data), hook_call(kv=kv))
    text = str(expected).encode()
    assert runner() == len(text)
    assert runner.read(BUF, len(text)) == text
    assert int.from_bytes(runner.read(0, 8), "little", signed=True) == expected


@pytest.mark.parametrize(
    ("key", "kv", "message"),
    [
        ("n", MemoryKV({b"n": b"twelve"}), "not a decimal integer"),
        ("n", MemoryKV({b"n": str(I64_MAX).encode()}), "overflows i64"),
        ("n", None, "bad key (status -3)"),
        ("", MemoryKV(), "bad key (status -2)"),
        ("n" * 9, MemoryKV(), "bad key (status -4)"),
    ],
    ids=["not-an-integer", "overflow", "no-store", "empty-key", "long-key"],
)
def test_kv_incr_traps_when_it_cannot_return_a_counter(key, kv, message):
    with pytest.raises(HookABIError, match=re.escape(message)):
        run_kv("kv_incr", key, 1, kv=kv)
