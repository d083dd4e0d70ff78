"""Running a module on a made-up request: what the admin, the API and `wasmhooks_try` show."""

from __future__ import annotations

import logging

import pytest

from tests.guests import WASI_PRINTER as PRINTER
from tests.wat import BUF, READ, Guest, W, hook
from wasmhooks import metrics
from wasmhooks.bridge import CacheKeyValueStore
from wasmhooks.registry import get_module
from wasmhooks.testutils import override_hooks
from wasmhooks.tryit import default_limits, load_version, parse_header_lines, try_module
from wasmhooks.uploads import store_upload


def loaded(wasm: bytes, name: str = "trial"):
    return load_version(store_upload(name, wasm).version)


def test_a_hook_that_lets_the_request_through():
    g = Guest()
    wasm = g.build(
        on_request=[
            g.do("log", 1, "saw a request"),
            g.do("request_set_header", "X-Added", "yes"),
            g.do("context_set", "user", "ada"),
            g.do("response_set_header", "X-Hook", "before"),
        ],
        on_response=[g.do("log", 2, "saw the response"), g.do("response_set_header", "X-Back", "after")],
    )
    result = try_module(loaded(wasm), method="post", path="/x?q=1", headers={"X-In": "1"}, body=b"hi")
    assert (result.status, result.body, result.answered, result.failures) == (200, b"", False, [])
    assert ("X-Hook", "before") in result.headers
    assert ("X-Back", "after") in result.headers
    assert result.logs == [
        {"level": "info", "message": "saw a request"},
        {"level": "warning", "message": "saw the response"},
    ]
    assert result.request_headers["X-Added"] == "yes"
    assert result.request_headers["X-In"] == "1"
    assert "Cookie" not in result.request_headers
    assert result.context == {"user": "ada"}
    assert result.elapsed_ms > 0


def test_the_guest_sees_the_request_described():
    g = Guest()
    wasm = g.build(
        on_request=[
            g.copy("X-Method", "request_method"),
            g.copy("X-Path", "request_path"),
            g.copy("X-Query", "request_query"),
            g.copy("X-Type", "request_header", "content-type"),
            g.copy("X-Twice", "request_header", "x-twice"),
            g.do("response_set_body", BUF, g.op("request_body", READ)),
            g.expect(0, "response_set_status", 418),
            1,
        ]
    )
    result = try_module(
        loaded(wasm),
        method="PUT",
        path="/p/?a=b",
        headers=[("Content-Type", "text/plain"), ("X-Twice", "1"), ("X-Twice", "2")],
        body=b"payload",
    )
    headers = dict(result.headers)
    assert (result.status, result.body, result.answered) == (418, b"payload", True)
    assert (headers["X-Method"], headers["X-Path"], headers["X-Query"]) == ("PUT", "/p/", "a=b")
    assert (headers["X-Type"], headers["X-Twice"]) == ("text/plain", "1,2")


def test_a_failure_is_reported_not_counted(failures):
    result = try_module(loaded(hook(on_request=["unreachable"])))
    assert result.status == 503
    assert not result.answered
    assert [(f.phase, f.kind) for f in result.failures] == [("on_request", "trap")]
    assert "unreachable" in result.failures[0].message
    assert failures == []
    assert metrics.failure_counts() == {}


def test_a_timeout_is_a_failure_under_the_limits_given():
    g = Guest()
    spinning = g.build(on_request=["(loop $l (br $l))"])
    result = try_module(loaded(spinning), limits=default_limits(timeout_ms=20))
    assert [f.kind for f in result.failures] == ["timeout"]


def test_the_key_value_store_is_thrown_away():
    g = Guest()
    wasm = g.build(on_request=[g.do("kv_set", "k", "v", 0), g.copy("X-Got", "kv_get", "k")])
    result = try_module(loaded(wasm))
    assert dict(result.headers)["X-Got"] == "v"
    assert CacheKeyValueStore("default", "trial").get(b"k") is None
    g = Guest()
    again = try_module(loaded(g.build(on_request=[g.copy("X-Got", "kv_get", "k")]), "other"))
    assert "X-Got" not in dict(again.headers)  # kv_get found nothing: the copy had no value


def test_config_reaches_the_guest():
    g = Guest()
    result = try_module(loaded(g.build(on_request=[g.copy("X-Config", "config")])), config='{"a": 1}')
    assert dict(result.headers)["X-Config"] == '{"a": 1}'


def test_the_module_on_trial_runs_even_if_settings_define_the_name():
    trial = loaded(hook(on_request=[]))
    with override_hooks({"trial": hook(on_request=["unreachable"])}):
        result = try_module(trial)
        assert result.failures == []
        assert try_module(get_module("trial")).failures[0].kind == "trap"


def test_cookies_and_binary_bodies_in_the_result():
    g = Guest()
    wasm = g.build(
        on_request=[
            g.do("response_add_header", "Set-Cookie", "a=1; Path=/"),
            "(i32.store (i32.const 40000) (i32.const 0xfffe00c3))",
            g.do("response_set_body", W("(i32.const 40000) (i32.const 4)")),
            1,
        ]
    )
    result = try_module(loaded(wasm))
    assert ("Set-Cookie", "a=1; Path=/") in result.headers
    data = result.as_dict()
    assert "body" not in data
    assert data["body_base64"] == "wwD+/w=="
    assert data["answered_by_hook"] is True


def test_as_dict_is_json_ready():
    result = try_module(loaded(hook(on_request=["unreachable"])))
    data = result.as_dict()
    assert data["failures"][0]["kind"] == "trap"
    assert data["body"].startswith("Service Unavailable")
    assert isinstance(data["headers"][0], list)
    assert set(data) >= {"status", "elapsed_ms", "logs", "request_headers", "context"}


@pytest.mark.parametrize(("method", "path"), [("GE T", "/"), ("GÉT", "/"), ("GET", "relative")])
def test_a_request_that_cannot_be_made(method, path):
    with pytest.raises(ValueError, match=r"not an HTTP method|must start with '/'"):
        try_module(loaded(hook(on_request=[])), method=method, path=path)


def test_header_lines():
    assert parse_header_lines(["X-A: 1", "X-B:two words ", "X-C:"]) == [
        ("X-A", "1"),
        ("X-B", "two words"),
        ("X-C", ""),
    ]
    for bad in ["no colon", ": empty name", " X-A: 1", "X A: 1"]:
        with pytest.raises(ValueError, match="is not a header"):
            parse_header_lines([bad])


def test_a_cookie_header_reaches_the_guest():
    g = Guest()
    result = try_module(
        loaded(g.build(on_request=[g.copy("X-Cookie", "request_header", "cookie")])),
        headers={"Cookie": "session=abc"},
    )
    assert dict(result.headers)["X-Cookie"] == "session=abc"


def test_the_throwaway_store_counts_and_deletes():
    g = Guest()
    wasm = g.build(
        on_request=[
            g.expect(-1, "kv_delete", "n"),
            g.expect(5, "kv_incr", "n", W("(i64.const 5)")),
            g.expect(-2, "kv_incr", "n", W("(i64.const -7)")),
            g.expect(0, "kv_delete", "n"),
            g.do("kv_set", "word", "abc", 0),
            g.do("kv_incr", "word", W("(i64.const 1)")),
        ]
    )
    result = try_module(loaded(wasm))
    assert [f.kind for f in result.failures] == ["abi"]
    assert "kv_incr: the value of b'word' is not a decimal integer" in result.failures[0].message


def test_the_guests_wasi_output_is_in_the_trial_not_the_live_logs(caplog):
    with caplog.at_level(logging.DEBUG):
        result = try_module(loaded(PRINTER, "printer"))
    assert result.failures == []
    assert result.logs == [
        {"level": "info", "message": "to stdout"},  # from _initialize
        {"level": "info", "message": "to stdout"},
        {"level": "warning", "message": "to stderr"},
    ]
    assert [r for r in caplog.records if r.name.startswith("wasmhooks.guest")] == []
