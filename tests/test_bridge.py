"""Django's request and response as guests see and change them (`wasmhooks/bridge.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings

import wasmhooks
from tests.views import loads
from tests.wat import BUF, READ, Guest, number
from wasmhooks.bridge import DjangoRequestSource
from wasmhooks.testutils import override_hooks

READERS = ["request_method", "request_path", "request_query", "request_headers", "request_body"]
READERS += ["request_client_ip", "request_user"]


def reader_guest() -> bytes:
    """For each reader R: `R` outputs what it reads, `R_length` outputs its result with cap 0."""
    g = Guest()
    exports: dict[str, list[str | int]] = {}
    for reader in READERS:
        exports[reader] = [g.do("output", BUF, g.op(reader, READ))]
        exports[f"{reader}_length"] = [g.output(g.op(reader, BUF, 0))]
    exports["request_header"] = [g.do("output", BUF, g.op("request_header", "x-ONE", READ))]
    exports["context_get"] = [g.do("output", BUF, g.op("context_get", "set-by-view", READ))]
    return g.build(**exports)


@pytest.fixture(autouse=True)
def _readers() -> Iterator[None]:
    with override_hooks({"readers": reader_guest()}):
        yield


def read(function: str, request: object) -> bytes:
    return wasmhooks.call("readers", function, request=request)  # type: ignore[arg-type]


def test_request_readers(rf):
    request = rf.post(
        "/p/?a=1&b=2",
        b"payload",
        content_type="application/octet-stream",
        headers={"X-One": "1"},
        SCRIPT_NAME="/app",
    )
    assert read("request_method", request) == b"POST"
    assert read("request_path", request) == b"/app/p/"  # Django's request.path
    assert read("request_query", request) == b"a=1&b=2"
    assert read("request_header", request) == b"1"
    assert read("request_body", request) == b"payload"
    assert read("request_client_ip", request) == b"127.0.0.1"
    lines = read("request_headers", request).decode().splitlines()
    assert lines == [f"{name.lower()}: {value}" for name, value in request.headers.items()]
    assert "x-one: 1" in lines


def test_request_user(rf):
    request = rf.get("/")
    assert number(read("request_user_length", request)) == -1  # no user at all
    request.user = AnonymousUser()
    assert number(read("request_user_length", request)) == -1
    request.user = User(username="ada")
    assert read("request_user", request) == b"ada"


def test_a_body_over_the_sites_limit_is_too_large(rf):
    request = rf.post("/", b"x" * 100, content_type="application/octet-stream")
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10):
        assert number(read("request_body_length", request)) == -4


def test_a_body_already_read_as_a_stream_is_not_there(rf):
    request = rf.post("/", b"streamed", content_type="application/octet-stream")
    assert request.read() == b"streamed"
    assert number(read("request_body_length", request)) == -1


def test_guests_read_the_context_the_view_set(rf):
    request = rf.get("/")
    request.wasmhooks = {"set-by-view": "hello"}
    assert read("context_get", request) == b"hello"


def post_through_content_type_hook(client, content_type: str, body: bytes = b""):  # type: ignore[no-untyped-def]
    """POST `body` as text/plain through a hook that sets the request's Content-Type."""
    g = Guest()
    wasm = g.build(on_request=[g.expect(0, "request_set_header", "Content-Type", content_type)])
    with override_hooks({"ct": wasm}, [{"module": "ct", "pattern": "^/"}]):
        return client.post("/x/", body, content_type="text/plain")


def test_content_type_set_by_a_hook_goes_to_meta_without_http_prefix(client):
    response = post_through_content_type_hook(client, "text/x-hook")
    assert loads(response)["headers"]["content-type"] == "text/x-hook"
    assert response.wsgi_request.META["CONTENT_TYPE"] == "text/x-hook"


def test_a_new_content_type_reaches_the_form_parser(client):
    request = post_through_content_type_hook(
        client, "application/x-www-form-urlencoded", b"name=hook"
    ).wsgi_request
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.POST["name"] == "hook"


@pytest.mark.parametrize(("charset", "encoding"), [("latin-1", "latin-1"), ("nope", None)])
def test_a_known_charset_becomes_the_request_encoding(client, charset, encoding):
    request = post_through_content_type_hook(client, f"text/plain; charset={charset}").wsgi_request
    assert request.content_params == {"charset": charset}
    assert request.encoding == encoding


@pytest.mark.parametrize(
    ("statement", "cookies"),
    [
        (("response_set_header", "Set-Cookie", "only=1"), {"only": "1"}),
        (("response_add_header", "Set-Cookie", "more=2"), {"view": "1", "more": "2"}),
        (("response_remove_header", "Set-Cookie"), {}),
    ],
)
def test_on_response_set_cookie_operations(client, statement, cookies):
    g = Guest()
    wasm = g.build(on_response=[g.expect(0, *statement)])
    with override_hooks({"cookies": wasm}, [{"module": "cookies", "pattern": "^/cookie/"}]):
        response = client.get("/cookie/")
    assert {name: morsel.value for name, morsel in response.cookies.items()} == cookies


@pytest.mark.parametrize("function", ["response_set_header", "response_add_header"])
def test_a_set_cookie_value_that_is_not_one_cookie_is_refused(client, caplog, function):
    g = Guest()
    wasm = g.build(
        on_response=[
            g.expect(-2, function, "Set-Cookie", "f=1, g=2"),
            g.expect(-2, function, "Set-Cookie", "a,b=1"),
        ]
    )
    with override_hooks({"cookies": wasm}, [{"module": "cookies", "pattern": "^/cookie/"}]):
        response = client.get("/cookie/")
    assert (response.status_code, list(response.cookies)) == (200, ["view"])
    assert "Set-Cookie" not in caplog.text


@pytest.mark.parametrize(
    ("phase", "cookies"),
    [("on_request", {"view": "1"}), ("on_response", {})],
    ids=["on_request-own-cookies-only", "on_response-the-views-too"],
)
def test_set_cookie_added_then_removed(client, phase, cookies):
    g = Guest()
    statements = [
        g.expect(0, "response_add_header", "Set-Cookie", "a=1"),
        g.expect(0, "response_remove_header", "Set-Cookie"),
    ]
    with override_hooks(
        {"cookies": g.build(**{phase: statements})}, [{"module": "cookies", "pattern": "^/"}]
    ):
        response = client.get("/cookie/")
    assert {name: morsel.value for name, morsel in response.cookies.items()} == cookies


def test_an_answer_carries_only_the_content_type_its_guest_gave(client):
    g = Guest()
    wasm = g.build(on_request=[g.expect(0, "response_add_header", "Content-Type", "application/json"), 1])
    with override_hooks({"json": wasm}, [{"module": "json", "pattern": "^/"}]):
        assert client.get("/x/")["Content-Type"] == "application/json"


def test_an_answer_without_a_content_type_gets_djangos(client):
    with override_hooks({"bare": Guest().build(on_request=[1])}, [{"module": "bare", "pattern": "^/"}]):
        assert client.get("/x/")["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("function", ["response_set_header", "response_add_header"])
def test_a_header_set_then_removed_in_on_request_leaves_the_views_header(client, function):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.expect(0, function, "X-View", "hook"),
            g.expect(0, "response_remove_header", "X-View"),
        ]
    )
    with override_hooks({"flip": wasm}, [{"module": "flip", "pattern": "^/"}]):
        response = client.get("/x/")
    assert response["X-View"] == "echo"


def test_a_header_set_then_removed_in_on_response_removes_the_views_header(client):
    g = Guest()
    wasm = g.build(
        on_response=[
            g.expect(0, "response_set_header", "X-View", "hook"),
            g.expect(0, "response_remove_header", "X-View"),
        ]
    )
    with override_hooks({"flip": wasm}, [{"module": "flip", "pattern": "^/"}]):
        response = client.get("/x/")
    assert "X-View" not in response


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x-one", "1"),
        ("content-type", "text/plain"),
        ("content-length", "7"),
        ("host", None),  # the test client sends none
        ("x-missing", None),
        ("x_one", None),  # Django's headers never have "_" in their names
        ("x-ünï", None),
    ],
)
def test_one_request_header_is_what_all_of_them_hold(rf, name, expected):
    request = rf.post("/p/", b"payload", content_type="text/plain", headers={"X-One": "1"})
    request.META["CONTENT_LENGTH"] = "7"
    source = DjangoRequestSource(request)
    assert source.header(name) == expected
    assert source.header(name) == source.headers().get(name)


def test_header_lookups_stay_right_once_the_name_cache_is_full(rf, monkeypatch):
    from wasmhooks import bridge

    monkeypatch.setattr(bridge, "_meta_keys", {f"x-{n}": ("HTTP_X_FILLER",) for n in range(4096)})
    source = DjangoRequestSource(rf.get("/", headers={"X-Late": "yes"}))
    assert [source.header("x-late"), source.header("x-late")] == ["yes", "yes"]
    assert "x-late" not in bridge._meta_keys


def test_key_value_stores_are_shared_until_there_are_too_many(monkeypatch):
    from wasmhooks import bridge

    assert bridge.CacheKeyValueStore.of("default", "m") is bridge.CacheKeyValueStore.of("default", "m")
    monkeypatch.setattr(bridge, "_stores", {("a", str(n)): None for n in range(4096)})
    first, second = (bridge.CacheKeyValueStore.of("default", "late") for _ in range(2))
    assert first is not second and first.prefix == second.prefix == "wasmhooks:kv:late:"


def test_long_header_names_are_looked_up_but_never_kept(rf, monkeypatch):
    from wasmhooks import bridge

    monkeypatch.setattr(bridge, "_meta_keys", {})
    name = "x-" + "a" * 63
    source = DjangoRequestSource(rf.get("/", headers={name: "long"}))
    assert source.header(name) == "long"
    assert bridge._meta_keys == {}
