"""Hooks from view code: `wasmhooks.call`/`acall` and the `@wasmhooks.hook` decorator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

import wasmhooks
from tests.loop import ticks_while
from tests.views import loads
from tests.wat import BUF, INFINITE_LOOP, MEMORY_BOMB, READ, Guest, hook, number
from wasmhooks import metrics
from wasmhooks.routing import BindingError
from wasmhooks.testutils import override_hooks


def calls_guest() -> bytes:
    g = Guest()
    return g.build(
        greet=[
            g.do("output", "hello, "),
            g.do("output", BUF, g.op("input", READ)),
            g.do("context_set", "greeted", BUF, g.op("input", READ)),
        ],
        method_length=[g.output(g.op("request_method", BUF, 0))],
        set_context=[g.output(g.op("context_set", "k", "v"))],
        set_request_header=[g.output(g.op("request_set_header", "X-A", "1"))],
        echo_config=[g.do("output", BUF, g.op("config", READ))],
        fail=[3],
        spin=[INFINITE_LOOP],
        bomb=[MEMORY_BOMB],
        on_request=[],
    )


@pytest.fixture
def calls_module() -> Iterator[None]:
    with override_hooks({"calls": calls_guest()}):
        yield


# wasmhooks.call ---------------------------------------------------------------------------


def test_call_returns_the_output_made_from_the_input(calls_module):
    assert wasmhooks.call("calls", "greet", b"ada") == b"hello, ada"


def test_without_a_request_readers_give_minus_one_and_changers_are_refused(calls_module):
    assert number(wasmhooks.call("calls", "method_length")) == -1
    assert number(wasmhooks.call("calls", "set_context")) == -3
    assert number(wasmhooks.call("calls", "set_request_header")) == -3


def test_with_a_request_readers_work_and_changes_land_on_it(calls_module, rf):
    request = rf.get("/")
    assert number(wasmhooks.call("calls", "method_length", request=request)) == len("GET")
    assert number(wasmhooks.call("calls", "set_context", request=request)) == 0
    assert number(wasmhooks.call("calls", "set_request_header", request=request)) == 0
    assert request.wasmhooks == {"k": "v"}
    assert (request.headers["X-A"], request.META["HTTP_X_A"]) == ("1", "1")


def test_a_failed_call_changes_nothing_on_the_request(rf):
    g = Guest()
    wasm = g.build(
        change_then_fail=[
            g.do("context_set", "k", "v"),
            g.do("request_set_header", "X-A", "1"),
            "unreachable",
        ]
    )
    request = rf.get("/")
    with override_hooks({"calls": wasm}), pytest.raises(wasmhooks.HookTrap):
        wasmhooks.call("calls", "change_then_fail", request=request)
    assert getattr(request, "wasmhooks", {}) == {}
    assert "x-a" not in request.headers


def test_a_view_calls_a_guest(client, calls_module):
    assert client.get("/greet/", {"name": "Ada"}).content == b"hello, Ada"


def test_config_reaches_the_guest(calls_module):
    assert wasmhooks.call("calls", "echo_config", config="text") == b"text"
    assert wasmhooks.call("calls", "echo_config", config=b"\x00bytes") == b"\x00bytes"


def test_a_non_zero_result_fails_and_is_reported(calls_module, caplog, failures, rf):
    request = rf.get("/")
    with pytest.raises(wasmhooks.HookABIError, match="returned 3"):
        wasmhooks.call("calls", "fail", request=request)
    assert metrics.failure_counts() == {("calls", "abi"): 1}
    [record] = [r for r in caplog.records if r.name == "wasmhooks"]
    assert (record.hook_binding, record.hook_phase) == ("call(fail)", "call")
    [signal] = failures
    assert (signal["phase"], signal["request"], signal["binding"].module) == ("call", request, "calls")


def test_a_missing_export_fails(calls_module):
    with pytest.raises(wasmhooks.HookABIError, match="not exported"):
        wasmhooks.call("calls", "nope")


def test_an_unknown_module_is_not_found():
    with pytest.raises(wasmhooks.ModuleNotFound):
        wasmhooks.call("undefined", "greet")
    assert metrics.failure_counts() == {("undefined", "not_found"): 1}


@pytest.mark.parametrize("name", ["on_request", "on_response", "_initialize", "wasmhooks_abi_v1"])
def test_reserved_names_are_refused(calls_module, name):
    with pytest.raises(wasmhooks.HookABIError, match="not callable"):
        wasmhooks.call("calls", name)


def test_the_timeout_argument_beats_the_setting():
    with override_hooks({"calls": calls_guest()}, WASMHOOKS_TIMEOUT_MS=60_000):
        started = time.monotonic()
        with pytest.raises(wasmhooks.HookTimeout):
            wasmhooks.call("calls", "spin", timeout_ms=20)
    assert time.monotonic() - started < 1


def test_the_settings_limit_calls():
    with override_hooks({"calls": calls_guest()}, WASMHOOKS_TIMEOUT_MS=20, WASMHOOKS_MEMORY_MB=1):
        with pytest.raises(wasmhooks.HookTimeout):
            wasmhooks.call("calls", "spin")
        with pytest.raises(wasmhooks.HookMemoryExceeded):
            wasmhooks.call("calls", "bomb")
    with (
        override_hooks({"calls": calls_guest()}, WASMHOOKS_FUEL=10_000),
        pytest.raises(wasmhooks.HookFuelExhausted),
    ):
        wasmhooks.call("calls", "spin", timeout_ms=60_000)


@pytest.mark.asyncio
async def test_acall(calls_module):
    assert await wasmhooks.acall("calls", "greet", b"async") == b"hello, async"
    with pytest.raises(wasmhooks.HookTimeout):
        await wasmhooks.acall("calls", "spin", timeout_ms=20)


@pytest.mark.asyncio
async def test_acall_runs_off_the_event_loop(calls_module):
    error, ticks = await ticks_while(wasmhooks.acall("calls", "spin", timeout_ms=300))
    assert isinstance(error, wasmhooks.HookTimeout)
    assert ticks >= 10


@pytest.mark.asyncio
async def test_hook_on_an_async_view_runs_off_the_event_loop(rf):
    view = wasmhooks.hook("spin", timeout_ms=300)(plain_async_view)
    with override_hooks({"spin": hook(on_request=[INFINITE_LOOP])}):
        response, ticks = await ticks_while(view(rf.get("/")))
    assert response.status_code == 503
    assert ticks >= 10


def test_package_exports_resolve_lazily():
    from wasmhooks import calls, registry

    assert (wasmhooks.call, wasmhooks.acall, wasmhooks.hook) == (calls.call, calls.acall, calls.hook)
    assert wasmhooks.ModuleNotFound is registry.ModuleNotFound
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wasmhooks.nope  # noqa: B018


# @wasmhooks.hook ---------------------------------------------------------------------------


def decorated_guest() -> bytes:
    g = Guest()
    return g.build(
        on_request=[
            g.copy("X-Item", "route_param", "item"),
            g.copy("X-Config", "config"),
            g.expect(0, "context_set", "decorated", "yes"),
        ],
        on_response=[g.do("response_add_header", "X-Decorated", "after")],
    )


def answer_guest() -> bytes:
    g = Guest()
    return g.build(on_request=[g.do("response_set_status", 402), g.do("response_set_body", "pay"), 1])


def plain_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"view")


async def plain_async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"async view")


def test_hook_runs_around_the_view_with_its_kwargs_and_config(client):
    with override_hooks({"decorated": decorated_guest()}):
        response = client.get("/decorated/42/")
    assert (response["X-Item"], response["X-Config"], response["X-Decorated"]) == (
        "42",
        "from-decorator",
        "after",
    )
    assert loads(response)["context"] == {"decorated": "yes"}
    assert loads(response)["kwargs"] == {"item": "42"}


@pytest.mark.asyncio
async def test_hook_on_an_async_view(async_client):
    with override_hooks({"decorated": decorated_guest()}):
        response = await async_client.get("/decorated-async/7/")
    assert (response["X-Item"], response["X-Config"], response["X-Decorated"]) == ("7", "", "after")
    assert loads(response)["context"] == {"decorated": "yes"}


def test_hook_answers_instead_of_the_view(rf: RequestFactory):
    view = wasmhooks.hook("answer")(plain_view)
    with override_hooks({"answer": answer_guest()}):
        response = view(rf.get("/"))
    assert (response.status_code, response.content) == (402, b"pay")


@pytest.mark.asyncio
async def test_hook_answers_instead_of_an_async_view(rf: RequestFactory):
    view = wasmhooks.hook("answer")(plain_async_view)
    with override_hooks({"answer": answer_guest()}):
        response = await view(rf.get("/"))
    assert (response.status_code, response.content) == (402, b"pay")


@pytest.mark.parametrize(
    ("on_error", "status", "content"), [("block", 503, None), ("continue", 200, b"view")]
)
def test_hook_on_error(rf, caplog, on_error, status, content):
    view = wasmhooks.hook("failing", on_error=on_error)(plain_view)
    with override_hooks({"failing": hook(on_request=["unreachable"])}):
        response = view(rf.get("/"))
        assert metrics.failure_counts() == {("failing", "trap"): 1}
    assert response.status_code == status
    assert content is None or response.content == content
    [record] = [r for r in caplog.records if r.name == "wasmhooks"]
    assert record.hook_binding == "@hook(failing)"


def test_hook_limits_and_methods(rf):
    with override_hooks(
        {"spin": hook(on_request=[INFINITE_LOOP]), "big": Guest().build(memory_pages=2, on_request=[])}
    ):
        assert (
            wasmhooks.hook("spin", methods=["POST"], timeout_ms=20)(plain_view)(rf.get("/")).status_code
            == 200
        )
        started = time.monotonic()
        assert wasmhooks.hook("spin", timeout_ms=20)(plain_view)(rf.get("/")).status_code == 503
        assert time.monotonic() - started < 1
        assert wasmhooks.hook("spin", fuel=10_000, isolate=True)(plain_view)(rf.get("/")).status_code == 503
        assert wasmhooks.hook("big")(plain_view)(rf.get("/")).status_code == 200
        assert wasmhooks.hook("big", memory_mb=0.1)(plain_view)(rf.get("/")).status_code == 503
        assert metrics.failure_counts() == {("spin", "timeout"): 1, ("spin", "fuel"): 1, ("big", "memory"): 1}


def test_hook_follows_the_default_timeout_setting_live(rf):
    view = wasmhooks.hook("spin")(plain_view)
    with override_hooks({"spin": hook(on_request=[INFINITE_LOOP])}, WASMHOOKS_TIMEOUT_MS=20):
        started = time.monotonic()
        assert view(rf.get("/")).status_code == 503
    assert time.monotonic() - started < 1


def test_hook_leaves_bad_default_settings_to_the_system_checks(rf):
    with override_settings(WASMHOOKS_TIMEOUT_MS=0):
        view = wasmhooks.hook("any")(plain_view)  # importing a views module must not fail
        with pytest.raises(BindingError, match="'timeout_ms' must be a positive number"):
            view(rf.get("/"))


def test_hook_keeps_the_views_name():
    assert wasmhooks.hook("any")(plain_view).__name__ == "plain_view"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"module": "bad name"}, "'module' must be a module name"),
        ({"on_error": "sometimes"}, "'on_error' must be one of"),
        ({"timeout_ms": 0}, "'timeout_ms' must be a positive number"),
        ({"memory_mb": -1}, "'memory_mb' must be a positive number"),
        ({"fuel": 1.5}, "'fuel' must be a positive integer"),
        ({"methods": "GET"}, "'methods' must be a list of HTTP methods"),
        ({"config": 42}, "'config' must be a string or bytes"),
        ({"isolate": "yes"}, "'isolate' must be True or False"),
    ],
)
def test_hook_refuses_invalid_arguments_at_decoration(arguments, message):
    arguments = {"module": "decorated", **arguments}
    with pytest.raises(ImproperlyConfigured, match=f"@wasmhooks.hook: {message}"):
        wasmhooks.hook(**arguments)
