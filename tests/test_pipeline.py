"""Hook failures in the middleware: every kind, under both `on_error` policies.

A failure is logged, counted and signalled. "block" answers 503 without running the view;
"continue" runs the view, skips the failed binding for the rest of the request and drops
what the failed call changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import wasmhooks
from tests import views
from tests.views import loads
from tests.wat import INFINITE_LOOP, MEMORY_BOMB, Guest, hook
from wasmhooks import metrics
from wasmhooks.testutils import override_hooks


@pytest.fixture(autouse=True)
def _forget_view_calls() -> None:
    views.calls.clear()


@dataclass
class Failure:
    """A way for a binding to fail: the guest's last statements (or its bytes), and what to expect."""

    error: type[wasmhooks.HookError]
    kind: str
    finish: list[str | int] = field(default_factory=list)
    wasm: bytes | str | None = None
    options: dict[str, object] = field(default_factory=dict)
    module: str = "failing"


FAILURES = {
    "timeout": Failure(wasmhooks.HookTimeout, "timeout", [INFINITE_LOOP], options={"timeout_ms": 20}),
    "fuel": Failure(
        wasmhooks.HookFuelExhausted, "fuel", [INFINITE_LOOP], options={"fuel": 10_000, "timeout_ms": 5000}
    ),
    "trap": Failure(wasmhooks.HookTrap, "trap", ["unreachable"]),
    "memory": Failure(wasmhooks.HookMemoryExceeded, "memory", [MEMORY_BOMB], options={"memory_mb": 1}),
    "bad-result": Failure(wasmhooks.HookABIError, "abi", [7]),
    "bad-pointer": Failure(
        wasmhooks.HookABIError, "abi", ["(drop (call $request_path (i32.const 65530) (i32.const 100)))"]
    ),
    "missing-file": Failure(wasmhooks.ModuleInvalid, "invalid", wasm="/nonexistent/failing.wasm"),
    "not-wasm": Failure(wasmhooks.ModuleInvalid, "invalid", wasm=b"not wasm at all"),
    "unknown-module": Failure(wasmhooks.ModuleNotFound, "not_found", wasm=b"", module="undefined"),
}


def failing_guest(failure: Failure, phase: str = "on_request") -> bytes | str:
    """Makes every kind of change it can in `phase`, then fails; the other phase marks that it ran."""
    if failure.wasm is not None:
        return failure.wasm
    g = Guest()
    changes = [
        g.do("response_set_header", "X-Failed", "1"),
        g.do("context_set", "failed", "1"),
        g.do("request_set_header", "X-Failed", "1"),
    ]
    other = "on_response" if phase == "on_request" else "on_request"
    ran = [g.do("response_set_header", f"X-Ran-{other}", "1")]
    return g.build(**{phase: changes + failure.finish, other: ran})


def binding(failure: Failure, on_error: str) -> dict[str, object]:
    return {
        "module": failure.module,
        "pattern": r"^/(async/)?hooked/",
        "on_error": on_error,
        **failure.options,
    }


def assert_reported(
    failure: Failure, phase: str, caplog: pytest.LogCaptureFixture, signals: list[dict[str, Any]]
):
    [record] = [r for r in caplog.records if r.name == "wasmhooks"]
    assert (record.levelno, record.hook_module, record.hook_binding) == (
        logging.WARNING,
        failure.module,
        "settings[0]",
    )
    assert (record.hook_kind, record.hook_phase) == (failure.kind, phase)
    assert metrics.failure_counts() == {(failure.module, failure.kind): 1}
    [signal] = signals
    assert type(signal["error"]) is failure.error
    assert (signal["binding"].module, signal["phase"]) == (failure.module, phase)
    assert signal["request"].path in ("/hooked/", "/async/hooked/")


def assert_blocked(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"Service Unavailable: a request hook failed.\n"
    assert views.calls == []


def assert_continued_without_changes(response: Any) -> None:
    assert response.status_code == 200
    seen = loads(response)
    assert (seen["context"], seen["meta"]) == ({}, {})
    assert "X-Failed" not in response
    assert "X-Ran-on_response" not in response  # the failed binding is skipped from then on


@pytest.mark.parametrize("name", FAILURES)
def test_on_request_failure_blocks(client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure)}, [binding(failure, "block")]):
        started = time.monotonic()
        response = client.get("/hooked/")
        assert time.monotonic() - started < 2
        assert_reported(failure, "on_request", caplog, failures)
    assert_blocked(response)


@pytest.mark.parametrize("name", FAILURES)
def test_on_request_failure_continues_without_its_changes(client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure)}, [binding(failure, "continue")]):
        response = client.get("/hooked/")
        assert_reported(failure, "on_request", caplog, failures)
    assert_continued_without_changes(response)
    assert views.calls == ["/hooked/"]


IN_GUEST = [name for name, failure in FAILURES.items() if failure.wasm is None]


@pytest.mark.parametrize("name", IN_GUEST)
def test_on_response_failure_blocks(client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure, "on_response")}, [binding(failure, "block")]):
        response = client.get("/hooked/")
        assert_reported(failure, "on_response", caplog, failures)
    assert response.status_code == 503
    assert views.calls == ["/hooked/"]


@pytest.mark.parametrize("name", IN_GUEST)
def test_on_response_failure_continues_with_the_views_response(client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure, "on_response")}, [binding(failure, "continue")]):
        response = client.get("/hooked/")
        assert_reported(failure, "on_response", caplog, failures)
    assert (response.status_code, response["Server"], response["X-Ran-on_request"]) == (200, "tests", "1")
    assert "X-Failed" not in response
    assert response.wsgi_request.wasmhooks == {}


def marker(header: str) -> bytes:
    """Sets `header` in on_request and records the status it sees in on_response."""
    g = Guest()
    return g.build(
        on_request=[g.do("response_set_header", header, "1")],
        on_response=[g.do("response_set_header", f"{header}-Saw-Status", g.op("response_status"))],
    )


def saw_status(expected: int) -> bytes:
    g = Guest()
    return g.build(
        on_request=[g.do("response_set_header", "X-Outer", "1")],
        on_response=[
            g.expect(expected, "response_status"),
            g.do("response_set_header", "X-Outer-Saw", "503"),
        ],
    )


def test_outer_bindings_see_the_503_of_a_blocked_inner_one(client):
    modules = {"outer": saw_status(503), "failing": hook(on_request=["unreachable"])}
    bindings = [{"module": "outer", "pattern": "^/"}, {"module": "failing", "pattern": "^/", "order": 1}]
    with override_hooks(modules, bindings):
        response = client.get("/hooked/")
    assert (response.status_code, response["X-Outer"], response["X-Outer-Saw"]) == (503, "1", "503")


def test_a_binding_continued_past_does_not_stop_the_others(client):
    g = Guest()
    after = g.build(on_request=[g.do("response_set_header", "X-After", "1")])
    modules = {"failing": hook(on_request=["unreachable"], on_response=[]), "after": after}
    bindings = [
        {"module": "failing", "pattern": "^/", "on_error": "continue"},
        {"module": "after", "pattern": "^/", "order": 1},
    ]
    with override_hooks(modules, bindings):
        response = client.get("/hooked/")
    assert (response.status_code, response["X-After"]) == (200, "1")


def test_the_log_names_the_binding(client, caplog):
    binding = {"module": "failing", "pattern": "^/", "name": "guard", "on_error": "continue"}
    with override_hooks({"failing": hook(on_request=["unreachable"])}, [binding]):
        client.get("/hooked/")
    [record] = [r for r in caplog.records if r.name == "wasmhooks"]
    assert record.hook_binding == "guard"
    assert "module=failing binding=guard phase=on_request kind=trap" in record.getMessage()


def test_the_worker_serves_the_next_request_after_a_memory_bomb(client):
    g = Guest()
    fine = g.build(on_request=[g.do("response_set_header", "X-Fine", "1")])
    modules = {"bomb": hook(on_request=[MEMORY_BOMB]), "fine": fine}
    bindings = [
        {"module": "bomb", "pattern": "^/bomb/", "memory_mb": 1},
        {"module": "fine", "pattern": "^/fine/", "memory_mb": 1},
    ]
    with override_hooks(modules, bindings):
        assert client.get("/bomb/").status_code == 503
        assert client.get("/fine/")["X-Fine"] == "1"
        assert client.get("/bomb/").status_code == 503
        assert metrics.failure_counts() == {("bomb", "memory"): 2}


def test_a_module_declaring_more_memory_than_its_cap_fails(client):
    wasm = Guest().build(memory_pages=32, on_request=[])
    with override_hooks({"big": wasm}, [{"module": "big", "pattern": "^/", "memory_mb": 1}]):
        assert client.get("/hooked/").status_code == 503
        assert metrics.failure_counts() == {("big", "memory"): 1}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["timeout", "memory", "not-wasm"])
async def test_async_failures_block(async_client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure)}, [binding(failure, "block")]):
        started = time.monotonic()
        response = await async_client.get("/async/hooked/")
        assert time.monotonic() - started < 2
        assert_reported(failure, "on_request", caplog, failures)
    assert_blocked(response)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["timeout", "trap"])
async def test_async_failures_continue_without_their_changes(async_client, caplog, failures, name):
    failure = FAILURES[name]
    with override_hooks({"failing": failing_guest(failure)}, [binding(failure, "continue")]):
        response = await async_client.get("/async/hooked/")
        assert_reported(failure, "on_request", caplog, failures)
    assert_continued_without_changes(response)
    assert views.calls == ["/async/hooked/"]
