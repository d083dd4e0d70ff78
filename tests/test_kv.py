"""The guests' key-value store on Django caches: local memory and a real Redis (DB 15)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.core.cache import caches

import wasmhooks
from tests.wat import BUF, READ, Guest, i64, number
from wasmhooks.abi import v1
from wasmhooks.testutils import override_hooks

KEY = "wasmhooks:kv:store:" + hashlib.sha256(b"k").hexdigest()
LONG_KEY = "k" * v1.MAX_KV_KEY_BYTES


def store_guest() -> bytes:
    """Functions on the key "k"; the value to set comes from the input."""
    g = Guest()
    return g.build(
        set=[g.output(g.op("kv_set", "k", BUF, g.op("input", READ), 0))],
        set_ttl1=[g.output(g.op("kv_set", "k", BUF, g.op("input", READ), 1))],
        get=[g.do("output", BUF, g.op("kv_get", "k", READ))],
        length=[g.output(g.op("kv_get", "k", BUF, 0))],
        incr=[g.output(g.op("kv_incr", "k", i64(2)), "i64")],
        incr1=[g.do("kv_incr", "k", i64(1))],
        decr=[g.output(g.op("kv_incr", "k", i64(-3)), "i64")],
        delete=[g.output(g.op("kv_delete", "k"))],
        set_long=[g.output(g.op("kv_set", LONG_KEY, BUF, g.op("input", READ), 0))],
        get_long=[g.do("output", BUF, g.op("kv_get", LONG_KEY, READ))],
        incr_long=[g.output(g.op("kv_incr", LONG_KEY, i64(2)), "i64")],
        delete_long=[g.output(g.op("kv_delete", LONG_KEY))],
    )


@pytest.fixture(params=["default", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    """Module "store" (and "other", the same bytes) with the KV store on one cache alias."""
    alias = request.param
    caches[alias].clear()
    wasm = store_guest()
    with override_hooks({"store": wasm, "other": wasm}, WASMHOOKS_KV_CACHE=alias):
        yield alias
    caches[alias].clear()


def call(function: str, input: bytes = b"", module: str = "store") -> bytes:
    return wasmhooks.call(module, function, input)


def test_set_get_delete(store):
    assert number(call("length")) == -1
    assert number(call("set", b"value")) == 0
    assert call("get") == b"value"
    assert caches[store].get(KEY) == b"value"
    assert number(call("delete")) == 0
    assert number(call("delete")) == -1
    assert number(call("length")) == -1


def test_modules_have_their_own_namespace(store):
    call("set", b"mine")
    assert number(call("length", module="other")) == -1
    call("set", b"theirs", module="other")
    assert call("get") == b"mine"


def test_the_longest_key_fits_every_cache(store):
    assert number(call("set_long", b"mine")) == 0
    assert number(call("set_long", b"theirs", module="other")) == 0
    assert (call("get_long"), call("get_long", module="other")) == (b"mine", b"theirs")
    digest = hashlib.sha256(LONG_KEY.encode()).hexdigest()
    assert caches[store].get(f"wasmhooks:kv:store:{digest}") == b"mine"
    assert number(call("delete_long")) == 0
    assert number(call("incr_long")) == 2
    assert call("get_long", module="other") == b"theirs"


def test_ttl_expires(store):
    call("set_ttl1", b"brief")
    assert call("get") == b"brief"
    time.sleep(1.1)
    assert number(call("length")) == -1


@pytest.mark.parametrize("store", ["redis"], indirect=True)
def test_redis_keys_carry_the_ttl_and_ttl_zero_never_expires(store):
    key = caches["redis"].make_key(KEY)
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        call("set_ttl1", b"brief")
        assert client.pttl(key) in range(1, 1001)
        call("set", b"forever")
        assert client.ttl(key) == -1


def test_incr_starts_a_missing_key_at_zero(store):
    assert number(call("incr")) == 2
    assert number(call("decr")) == -1
    assert call("get") == b"-1"


def test_incr_adds_to_a_decimal_set_value(store):
    call("set", b"5")
    assert number(call("incr")) == 7
    assert call("get") == b"7"


@pytest.mark.parametrize("value", [b"05", b"-0", b"+5", b" 5", b"5\n", b"99999999999999999999"])
def test_values_that_only_look_like_integers_keep_their_bytes(store, value):
    call("set", value)
    assert call("get") == value


@pytest.mark.parametrize("value", [b"five", b"1.5", b"99999999999999999999"])
def test_incr_on_a_value_that_is_not_an_integer_fails(store, value):
    call("set", value)
    with pytest.raises(wasmhooks.HookABIError, match="not a decimal integer"):
        call("incr")
    assert call("get") == value


def test_incr_from_many_threads_is_atomic(store):
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            for _ in range(50):
                call("incr1")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert call("get") == b"400"


def test_a_cache_that_keeps_nothing_is_a_host_failure():
    with override_hooks({"store": store_guest()}, WASMHOOKS_KV_CACHE="dummy"):
        assert number(call("set", b"lost")) == 0
        assert number(call("length")) == -1
        with pytest.raises(wasmhooks.HookHostError):
            call("incr")
