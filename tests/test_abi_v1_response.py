"""ABI v1 response functions: status, body and headers, in each phase."""

from __future__ import annotations

import pytest

from tests.guests import guest
from tests.test_abi_support import BUF, Guest, hook_call, invoke, place, probe
from wasmhooks.abi import Phase, ResponseDraft, v1

HEADER_CHANGERS = ["response_set_header", "response_add_header"]


def view_response(**fields: object) -> ResponseDraft:
    """The draft of a view's response, as the Django layer builds it."""
    fields = {
        "status": 200,
        "headers": {"content-type": ("Content-Type", "text/html")},
        "body": b"<p>view</p>",
    } | fields
    return ResponseDraft(**fields)


@pytest.mark.parametrize("phase", [Phase.REQUEST, Phase.RESPONSE])
@pytest.mark.parametrize("status", [100, 201, 599])
def test_response_set_status_sets_a_status_in_range(phase, status):
    call = hook_call(phase)
    assert probe("response_set_status", status, call=call).result == v1.OK
    assert (call.response.status, call.response.status_changed) == (status, True)


@pytest.mark.parametrize("status", [99, 600, 0, -200])
def test_response_set_status_rejects_a_status_out_of_range(status):
    call = hook_call()
    assert probe("response_set_status", status, call=call).result == v1.INVALID
    assert (call.response.status, call.response.status_changed) == (None, False)


def test_response_set_status_in_a_call_is_not_allowed():
    call = hook_call(Phase.CALL)
    assert probe("response_set_status", 200, call=call).result == v1.NOT_ALLOWED
    assert call.response.status is None


@pytest.mark.parametrize(
    ("phase", "response", "expected"),
    [
        (Phase.REQUEST, ResponseDraft(), v1.NOT_FOUND),
        (Phase.RESPONSE, ResponseDraft(status=404), 404),
        (Phase.CALL, ResponseDraft(status=200), v1.NOT_FOUND),
    ],
)
def test_response_status_reads_the_status_or_minus_one(phase, response, expected):
    assert probe("response_status", call=hook_call(phase, response=response)).result == expected


def test_response_status_in_on_request_sees_the_status_the_guest_set():
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("response_set_status", 403)})
      {invoke("response_status")})"""
    assert Guest(guest(body), hook_call())() == 403


@pytest.mark.parametrize("phase", [Phase.REQUEST, Phase.RESPONSE])
@pytest.mark.parametrize("content", [b"", b"denied\x00\xff"])
def test_response_set_body_replaces_the_body(phase, content):
    call = hook_call(phase, response=view_response())
    data, [body] = place(content)
    assert probe("response_set_body", *body, call=call, data=data).result == v1.OK
    assert (call.response.body, call.response.body_changed) == (content, True)


@pytest.mark.parametrize(
    ("phase", "response", "expected"),
    [
        (Phase.CALL, ResponseDraft(), v1.NOT_ALLOWED),
        (Phase.RESPONSE, view_response(body=None, streaming=True), v1.NOT_ALLOWED),
        (Phase.REQUEST, ResponseDraft(), v1.TOO_LARGE),
    ],
    ids=["call", "streaming", "too-large"],
)
def test_response_set_body_refused_leaves_the_body(monkeypatch, phase, response, expected):
    monkeypatch.setattr(v1, "MAX_BODY_BYTES", 4)
    before = response.body
    data, [body] = place("12345")
    assert (
        probe("response_set_body", *body, call=hook_call(phase, response=response), data=data).result
        == expected
    )
    assert (response.body, response.body_changed) == (before, False)


@pytest.mark.parametrize(
    ("phase", "response", "expected"),
    [
        (Phase.REQUEST, ResponseDraft(), b""),
        (Phase.RESPONSE, view_response(), b"<p>view</p>"),
        (Phase.RESPONSE, view_response(body=None, streaming=True), None),
        (Phase.CALL, view_response(), None),
    ],
    ids=["built-so-far", "view", "streaming", "call"],
)
def test_response_body_reads_the_body_or_minus_one(phase, response, expected):
    runner = probe("response_body", BUF, 64, call=hook_call(phase, response=response))
    assert runner.result == (v1.NOT_FOUND if expected is None else len(expected))
    assert runner.read(BUF, 64).rstrip(b"\0") == (expected or b"")


def test_response_body_with_a_small_cap_returns_the_full_length():
    runner = probe("response_body", BUF, 3, call=hook_call(Phase.RESPONSE, response=view_response()))
    assert runner.result == len(b"<p>view</p>")
    assert runner.read(BUF, 4) == b"<p>\0"


@pytest.mark.parametrize(
    ("name", "expected"), [("content-type", b"text/html"), ("CONTENT-TYPE", b"text/html"), ("x-no", None)]
)
def test_response_header_is_case_insensitive_and_minus_one_when_absent(name, expected):
    data, [name_range] = place(name)
    call = hook_call(Phase.RESPONSE, response=view_response())
    runner = probe("response_header", *name_range, BUF, 64, call=call, data=data)
    assert runner.result == (v1.NOT_FOUND if expected is None else len(expected))
    assert runner.read(BUF, 64).rstrip(b"\0") == (expected or b"")


@pytest.mark.parametrize(
    ("phase", "name"), [(Phase.CALL, b"content-type"), (Phase.RESPONSE, b"\xff")], ids=["call", "bad-utf8"]
)
def test_response_header_returns_minus_one_in_a_call_or_for_a_bad_name(phase, name):
    data, [name_range] = place(name)
    call = hook_call(phase, response=view_response())
    assert probe("response_header", *name_range, BUF, 64, call=call, data=data).result == v1.NOT_FOUND


def test_response_set_header_replaces_the_value_under_the_new_name():
    response = view_response()
    data, [name, value] = place("CONTENT-type", "application/json")
    call = hook_call(Phase.RESPONSE, response=response)
    assert probe("response_set_header", *name, *value, call=call, data=data).result == v1.OK
    assert response.headers == {"content-type": ("CONTENT-type", "application/json")}
    assert response.operations == [("set", "CONTENT-type", "application/json")]


def test_response_add_header_joins_values_with_a_comma_and_keeps_the_first_name():
    data, [name, first, second] = place("X-Tag", "a", "b")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("response_add_header", *name, *first)})
      (drop {invoke("response_add_header", *name, *second)})
      {invoke("response_header", *name, BUF, 64)})"""
    response = ResponseDraft(headers={"x-tag": ("x-tag", "view")})
    runner = Guest(guest(body, data=data), hook_call(response=response))
    assert runner() == len(b"view, a, b")
    assert runner.read(BUF, 10) == b"view, a, b"
    assert response.headers == {"x-tag": ("x-tag", "view, a, b")}
    assert response.operations == [("add", "X-Tag", "a"), ("add", "X-Tag", "b")]


def test_response_add_header_of_a_new_name_sets_it():
    response = ResponseDraft()
    data, [name, value] = place("X-New", "1")
    assert (
        probe("response_add_header", *name, *value, call=hook_call(response=response), data=data).result == 0
    )
    assert response.headers == {"x-new": ("X-New", "1")}


@pytest.mark.parametrize(
    ("name", "value"),
    [(b"\xff", b"v"), (b"X-Ok", b"\xff"), (b"", b"v"), (b"Bad Name", b"v"), (b"X-Ok", b"a\r\nb: c")],
)
@pytest.mark.parametrize("function", HEADER_CHANGERS)
def test_response_header_changers_reject_invalid_names_and_values(function, name, value):
    response = ResponseDraft()
    data, [name_range, value_range] = place(name, value)
    runner = probe(function, *name_range, *value_range, call=hook_call(response=response), data=data)
    assert runner.result == v1.INVALID
    assert (response.headers, response.operations) == ({}, [])


@pytest.mark.parametrize("function", HEADER_CHANGERS)
def test_response_header_names_may_contain_underscores(function):
    data, [name, value] = place("X_Under", "v")
    assert probe(function, *name, *value, call=hook_call(), data=data).result == v1.OK


@pytest.mark.parametrize("function", [*HEADER_CHANGERS, "response_remove_header"])
def test_response_header_changers_in_a_call_are_not_allowed(function):
    response = view_response()
    data, [name, value] = place("content-type", "text/plain")
    args = (*name, *value) if function in HEADER_CHANGERS else name
    call = hook_call(Phase.CALL, response=response)
    assert probe(function, *args, call=call, data=data).result == v1.NOT_ALLOWED
    assert response.operations == []


@pytest.mark.parametrize(
    ("name", "expected", "headers"),
    [
        ("Content-Type", v1.OK, {}),
        ("x-absent", v1.NOT_FOUND, {"content-type": ("Content-Type", "text/html")}),
        ("bad name", v1.INVALID, {"content-type": ("Content-Type", "text/html")}),
        (b"\xff", v1.INVALID, {"content-type": ("Content-Type", "text/html")}),
    ],
)
def test_response_remove_header_removes_a_present_header_only(name, expected, headers):
    response = view_response()
    data, [name_range] = place(name)
    call = hook_call(Phase.RESPONSE, response=response)
    assert probe("response_remove_header", *name_range, call=call, data=data).result == expected
    assert response.headers == headers
    assert response.operations == ([("remove", name, "")] if expected == v1.OK else [])


def change_headers(response: ResponseDraft, phase: Phase, *changes: tuple[str, ...]) -> list[int]:
    """Make `changes` ((function, name[, value]) each) in one guest call; return their statuses."""
    data, ranges = place(*(text for _function, *texts in changes for text in texts))
    statements = []
    for index, (function, *texts) in enumerate(changes):
        args = [number for _text in texts for number in ranges.pop(0)]
        statements.append(f"(i32.store (i32.const {4 * index}) {invoke(function, *args)})")
    body = f'(func (export "probe") (result i32) {" ".join(statements)} (i32.const 0))'
    runner = Guest(guest(body, data=data), hook_call(phase, response=response))
    runner()
    raw = runner.read(0, 4 * len(changes))
    return [int.from_bytes(raw[at : at + 4], "little", signed=True) for at in range(0, len(raw), 4)]


@pytest.mark.parametrize("function", HEADER_CHANGERS)
@pytest.mark.parametrize("name", ["X-View", "Set-Cookie"])
def test_on_request_removing_a_header_it_set_cancels_its_changes(function, name):
    response = ResponseDraft()
    statuses = change_headers(
        response,
        Phase.REQUEST,
        ("response_set_header", "X-Keep", "1"),
        (function, name, "a=1"),
        (function, name, "b=2"),
        ("response_remove_header", name.upper()),
    )
    assert statuses == [v1.OK] * 4
    assert response.headers == {"x-keep": ("X-Keep", "1")}
    assert response.operations == [("set", "X-Keep", "1")]  # no "remove" for the view's header


def test_on_request_a_header_set_again_after_its_removal_is_set():
    response = ResponseDraft()
    statuses = change_headers(
        response,
        Phase.REQUEST,
        ("response_add_header", "X-Tag", "a"),
        ("response_remove_header", "X-Tag"),
        ("response_add_header", "x-tag", "b"),
    )
    assert statuses == [v1.OK] * 3
    assert response.headers == {"x-tag": ("x-tag", "b")}
    assert response.operations == [("add", "x-tag", "b")]


@pytest.mark.parametrize("function", HEADER_CHANGERS)
def test_on_response_removing_a_header_of_the_views_response_removes_it(function):
    response = view_response()
    statuses = change_headers(
        response,
        Phase.RESPONSE,
        ("response_remove_header", "Content-Type"),
        (function, "content-type", "text/csv"),
        ("response_remove_header", "CONTENT-TYPE"),
    )
    assert statuses == [v1.OK] * 3
    assert response.headers == {}
    assert response.operations == [("remove", "CONTENT-TYPE", "")]


def test_on_response_removing_a_header_the_view_did_not_have_cancels_it():
    response = view_response()
    statuses = change_headers(
        response, Phase.RESPONSE, ("response_add_header", "X-New", "1"), ("response_remove_header", "X-New")
    )
    assert statuses == [v1.OK] * 2
    assert response.headers == {"content-type": ("Content-Type", "text/html")}
    assert response.operations == []


@pytest.mark.parametrize("value", ["f=1, g=2", "f=1; g=2", "a,b=1", "", "Path=/", "a=1; flag", "=1"])
@pytest.mark.parametrize("name", ["Set-Cookie", "set-COOKIE"])
@pytest.mark.parametrize("function", HEADER_CHANGERS)
def test_a_set_cookie_value_that_is_not_exactly_one_cookie_is_invalid(function, name, value):
    call = hook_call(response=ResponseDraft())
    data, [name_range, value_range] = place(name, value)
    assert probe(function, *name_range, *value_range, call=call, data=data).result == v1.INVALID
    assert (call.response.headers, call.response.operations, call.held_bytes) == ({}, [], 0)


@pytest.mark.parametrize(
    "value", ["id=1", 'id="a b"; Path=/; HttpOnly', "id=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]
)
@pytest.mark.parametrize("function", HEADER_CHANGERS)
def test_a_set_cookie_value_of_one_cookie_is_accepted(function, value):
    response = ResponseDraft()
    data, [name_range, value_range] = place("Set-Cookie", value)
    assert (
        probe(function, *name_range, *value_range, call=hook_call(response=response), data=data).result == 0
    )
    assert response.headers == {"set-cookie": ("Set-Cookie", value)}


def test_header_names_are_checked_right_once_the_cache_is_full(monkeypatch):
    from wasmhooks.abi import state

    monkeypatch.setattr(state, "_checked_names", {})
    monkeypatch.setattr(state, "_MAX_CHECKED_NAMES", 1)
    assert [state.valid_header_name(name) for name in ("X-A", "X B", "X-A", "X B")] == [
        True,
        False,
        True,
        False,
    ]
    assert state._checked_names == {"X-A": True}


def test_long_header_names_are_checked_but_never_kept(monkeypatch):
    from wasmhooks.abi import state

    monkeypatch.setattr(state, "_checked_names", {})
    long_name = "X" * 65
    assert state.valid_header_name(long_name) and state.valid_header_name("X" * 64)
    assert list(state._checked_names) == ["X" * 64]
