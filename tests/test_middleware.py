"""`WasmHooksMiddleware` end to end: how hooks nest around the view, under WSGI and ASGI."""

from __future__ import annotations

import pytest

from tests import views
from tests.loop import ticks_while
from tests.views import loads
from tests.wat import BUF, INFINITE_LOOP, READ, Guest, hook
from wasmhooks.testutils import override_hooks


@pytest.fixture(autouse=True)
def _forget_view_calls() -> None:
    views.calls.clear()


def bind(module: str, pattern: str = r"^/(async/)?hooked/", **options: object) -> dict[str, object]:
    return {"module": module, "pattern": pattern, **options}


def trail(letter: str) -> bytes:
    """Adds `letter` to X-Trail in on_request and to X-Back in on_response."""
    g = Guest()
    return g.build(
        on_request=[g.do("response_add_header", "X-Trail", letter)],
        on_response=[g.do("response_add_header", "X-Back", letter)],
    )


def answering(status: int, body: str) -> bytes:
    g = Guest()
    return g.build(
        on_request=[
            g.expect(0, "response_set_status", status),
            g.expect(0, "response_set_body", body),
            g.expect(0, "response_set_header", "X-Reason", "no key"),
            1,
        ],
        on_response=[g.do("response_add_header", "X-Back", "answer")],
    )


def request_changers() -> dict[str, bytes]:
    """ "first" sets a request header and context; "second" records what it saw of them."""
    g = Guest()
    first = g.build(
        on_request=[
            g.expect(-1, "context_get", "from-second", READ),  # second has not run yet
            g.expect(0, "request_set_header", "X-From-First", "1"),
            g.expect(0, "request_remove_header", "X-Drop"),
            g.expect(0, "context_set", "from-first", "yes"),
        ]
    )
    g = Guest()
    second = g.build(
        on_request=[
            g.expect(0, "context_set", "from-second", "yes"),
            g.expect(
                0, "context_set", "second-saw-header", BUF, g.op("request_header", "X-From-First", READ)
            ),
            g.expect(0, "context_set", "second-saw-context", BUF, g.op("context_get", "from-first", READ)),
        ]
    )
    return {"first": first, "second": second}


EXPECTED_CONTEXT = {
    "from-first": "yes",
    "from-second": "yes",
    "second-saw-header": "1",
    "second-saw-context": "yes",
}


def test_bindings_run_by_order_then_position_and_unwind_in_reverse(client):
    bindings = [bind("d", order=5), bind("b"), bind("a", order=-1), bind("c")]
    with override_hooks({name: trail(name) for name in "abcd"}, bindings):
        response = client.get("/hooked/")
    assert response["X-Trail"] == "a, b, c, d"
    assert response["X-Back"] == "d, c, b, a"


def test_request_changes_reach_later_bindings_and_the_view(client):
    with override_hooks(request_changers(), [bind("second", order=1), bind("first")]):
        seen = loads(client.get("/hooked/", headers={"X-Drop": "gone", "X-Keep": "kept"}))
    assert seen["context"] == EXPECTED_CONTEXT
    assert seen["headers"]["x-from-first"] == "1"
    assert seen["meta"] == {"HTTP_X_FROM_FIRST": "1", "HTTP_X_KEEP": "kept"}


def test_answer_skips_the_view_and_later_bindings(client):
    modules = {"answer": answering(403, "denied"), "later": trail("later")}
    with override_hooks(modules, [bind("later", order=1), bind("answer")]):
        response = client.get("/hooked/")
    assert (response.status_code, response.content, response["X-Reason"]) == (403, b"denied", "no key")
    assert "X-Trail" not in response
    assert response["X-Back"] == "answer"  # "later" never ran, so its on_response does not either
    assert views.calls == []


def test_answer_status_defaults_to_200(client):
    with override_hooks({"ok": hook(on_request=[1])}, [bind("ok")]):
        response = client.get("/hooked/")
    assert (response.status_code, response.content) == (200, b"")
    assert views.calls == []


def test_every_entered_binding_sees_the_answer_in_reverse_order(client):
    g = Guest()
    outer = g.build(
        on_request=[g.do("response_set_header", "X-Outer", "on-request")],
        on_response=[
            g.expect(403, "response_status"),
            g.copy("X-Outer-Saw", "response_body"),
            g.do("response_add_header", "X-Back", "outer"),
        ],
    )
    modules = {"outer": outer, "answer": answering(403, "denied"), "inner": trail("inner")}
    with override_hooks(modules, [bind("outer"), bind("answer", order=1), bind("inner", order=2)]):
        response = client.get("/hooked/")
    assert response["X-Back"] == "answer, outer"
    assert response["X-Outer-Saw"] == "denied"
    assert response["X-Outer"] == "on-request"  # on_request headers reach the answer too


def test_on_request_headers_set_or_join_the_views(client):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.do("response_set_header", "Server", "hook"),
            g.do("response_add_header", "X-View", "hook"),
            g.do("response_add_header", "X-Multi", "1"),
            g.do("response_add_header", "X-Multi", "2"),
        ]
    )
    with override_hooks({"headers": wasm}, [bind("headers")]):
        response = client.get("/hooked/")
    assert (response["Server"], response["X-View"], response["X-Multi"]) == ("hook", "echo, hook", "1, 2")


def test_set_cookie_added_twice_becomes_two_cookies(client):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.do("response_add_header", "Set-Cookie", "a=1; Path=/a"),
            g.do("response_add_header", "Set-Cookie", "b=2"),
        ]
    )
    with override_hooks({"cookies": wasm}, [bind("cookies", r"^/cookie/")]):
        response = client.get("/cookie/")
    assert {name: morsel.value for name, morsel in response.cookies.items()} == {
        "view": "1",
        "a": "1",
        "b": "2",
    }
    assert response.cookies["a"]["path"] == "/a"


def test_a_binding_that_removes_its_own_header_leaves_earlier_bindings_values(client):
    g = Guest()
    undo = g.build(
        on_request=[
            g.expect(0, "response_set_header", "X-Trail", "undo"),
            g.expect(0, "response_remove_header", "X-Trail"),
        ]
    )
    with override_hooks({"a": trail("a"), "undo": undo}, [bind("a"), bind("undo", order=1)]):
        response = client.get("/hooked/")
    assert response["X-Trail"] == "a"


def test_on_response_reads_and_removes_the_views_headers(client):
    g = Guest()
    wasm = g.build(
        on_response=[
            g.copy("X-Server-Was", "response_header", "Server"),
            g.expect(0, "response_remove_header", "Server"),
        ]
    )
    with override_hooks({"strip": wasm}, [bind("strip")]):
        response = client.get("/hooked/")
    assert "Server" not in response
    assert response["X-Server-Was"] == "tests"


def test_on_response_sees_the_views_cookies_as_set_cookie(client):
    g = Guest()
    wasm = g.build(on_response=[g.copy("X-Cookies-Were", "response_header", "Set-Cookie")])
    with override_hooks({"cookies": wasm}, [bind("cookies", r"^/cookie/")]):
        response = client.get("/cookie/")
    assert response["X-Cookies-Were"] == "view=1; Path=/"


def status_and_body() -> bytes:
    g = Guest()
    return g.build(
        on_response=[g.expect(0, "response_set_status", 201), g.expect(0, "response_set_body", "changed")]
    )


def test_on_response_changes_status_body_and_content_length(client):
    with override_hooks({"rewrite": status_and_body()}, [bind("rewrite", r"^/sized/")]):
        response = client.get("/sized/")
    assert (response.status_code, response.content, response["Content-Length"]) == (201, b"changed", "7")


def test_a_changed_body_gets_no_content_length_the_view_did_not_set(client):
    with override_hooks({"rewrite": status_and_body()}, [bind("rewrite")]):
        response = client.get("/hooked/")
    assert (response.status_code, response.content) == (201, b"changed")
    assert "Content-Length" not in response


def test_streaming_response_takes_headers_but_refuses_a_body(client):
    g = Guest()
    wasm = g.build(
        on_response=[
            g.expect(-1, "response_body", READ),
            g.expect(0, "response_set_header", "X-Stream", "yes"),
            g.expect(-3, "response_set_body", "replaced"),
        ]
    )
    with override_hooks({"stream": wasm}, [bind("stream", r"^/stream/")]):
        response = client.get("/stream/")
    assert response["X-Stream"] == "yes"
    assert b"".join(response.streaming_content) == b"chunk-1,chunk-2"


def test_route_param_reads_the_bindings_named_groups(client):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.copy("X-Item", "route_param", "item"),
            g.expect(-1, "route_param", "part", READ),  # optional group that did not match
            g.expect(-1, "route_param", "nope", READ),
        ]
    )
    pattern = r"^/items/(?P<item>\d+)/(?:(?P<part>[a-z]+)/)?$"
    with override_hooks({"params": wasm}, [bind("params", pattern)]):
        assert client.get("/items/42/")["X-Item"] == "42"


def test_config_reaches_the_guest(client):
    g = Guest()
    wasm = g.build(on_request=[g.copy("X-Config", "config")])
    with override_hooks({"config": wasm}, [bind("config", config="cfg-value")]):
        assert client.get("/hooked/")["X-Config"] == "cfg-value"


def test_methods_limit_a_binding(client):
    with override_hooks({"posts": trail("p")}, [bind("posts", methods=["post"])]):
        assert "X-Trail" not in client.get("/hooked/")
        assert client.post("/hooked/")["X-Trail"] == "p"


def test_paths_that_match_no_binding_are_untouched(client):
    with override_hooks({"a": trail("a")}, [bind("a")]):
        response = client.get("/elsewhere/")
    assert "X-Trail" not in response
    assert loads(response)["context"] == {}


def test_request_wasmhooks_is_there_without_any_binding(client):
    assert loads(client.get("/anything/"))["context"] == {}


@pytest.mark.asyncio
async def test_async_order_request_changes_and_unwinding(async_client):
    modules = {**request_changers(), "a": trail("a"), "b": trail("b")}
    bindings = [bind("b", order=3), bind("second", order=1), bind("first"), bind("a", order=2)]
    with override_hooks(modules, bindings):
        response = await async_client.get("/async/hooked/", headers={"X-Drop": "gone"})
    assert loads(response)["context"] == EXPECTED_CONTEXT
    assert loads(response)["meta"] == {"HTTP_X_FROM_FIRST": "1"}
    assert (response["X-Trail"], response["X-Back"]) == ("a, b", "b, a")


@pytest.mark.asyncio
async def test_async_answer_skips_the_view(async_client):
    with override_hooks({"answer": answering(401, "who?")}, [bind("answer")]):
        response = await async_client.get("/async/hooked/")
    assert (response.status_code, response.content, response["X-Back"]) == (401, b"who?", "answer")
    assert views.calls == []


@pytest.mark.asyncio
async def test_async_client_with_a_sync_view_and_no_match(async_client):
    with override_hooks({"a": trail("a")}, [bind("a")]):
        hooked = await async_client.get("/hooked/")
        untouched = await async_client.get("/elsewhere/")
    assert (hooked["X-Trail"], hooked["X-Back"]) == ("a", "a")
    assert "X-Trail" not in untouched
    assert loads(untouched)["context"] == {}


@pytest.mark.asyncio
async def test_async_guests_run_off_the_event_loop(async_client):
    with override_hooks({"spin": hook(on_request=[INFINITE_LOOP])}, [bind("spin", timeout_ms=300)]):
        response, ticks = await ticks_while(async_client.get("/async/hooked/"))
    assert response.status_code == 503
    assert ticks >= 10
