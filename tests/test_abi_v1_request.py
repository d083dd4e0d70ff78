"""ABI v1 request readers, request changers and the per-request context."""

from __future__ import annotations

import pytest

from tests.guests import guest
from tests.test_abi_support import BUF, PAGE, FakeRequest, Guest, hook_call, invoke, place, probe
from wasmhooks.abi import Phase, v1
from wasmhooks.abi.state import BodyTooLarge, HookCall

HEADERS_TEXT = b"host: example.com\naccept: */*\n"
REQUEST_READERS = [
    ("request_method", b"GET"),
    ("request_path", b"/items/7"),
    ("request_query", b"page=2&sort=name"),
    ("request_headers", HEADERS_TEXT),
    ("request_body", b"hello body"),
    ("request_client_ip", b"203.0.113.9"),
    ("request_user", b"alice"),
]
REQUEST_READER_NAMES = [name for name, _value in REQUEST_READERS]


@pytest.mark.parametrize(("name", "value"), REQUEST_READERS)
@pytest.mark.parametrize("phase", list(Phase))
def test_request_reader_writes_the_value_and_returns_its_length(name, value, phase):
    runner = probe(name, BUF, 64, call=hook_call(phase, request=FakeRequest()))
    assert runner.result == len(value)
    assert runner.read(BUF, 65) == value + bytes(65 - len(value))


@pytest.mark.parametrize(("name", "value"), REQUEST_READERS)
def test_request_reader_with_a_small_cap_writes_cap_bytes_and_returns_the_full_length(name, value):
    runner = probe(name, BUF, 3, call=hook_call())
    assert runner.result == len(value)
    assert runner.read(BUF, 4) == value[:3] + b"\0"


@pytest.mark.parametrize(("name", "value"), REQUEST_READERS)
def test_request_reader_with_an_exact_cap_writes_the_whole_value(name, value):
    runner = probe(name, BUF, len(value), call=hook_call())
    assert runner.result == len(value)
    assert runner.read(BUF, len(value) + 1) == value + b"\0"


@pytest.mark.parametrize(("name", "value"), REQUEST_READERS)
def test_request_reader_with_zero_cap_at_the_end_of_memory_only_reports_the_length(name, value):
    assert probe(name, PAGE, 0, call=hook_call()).result == len(value)


@pytest.mark.parametrize("name", REQUEST_READER_NAMES)
def test_request_reader_without_a_request_returns_minus_one_and_writes_nothing(name):
    runner = probe(name, BUF, 64, call=hook_call(Phase.CALL))
    assert runner.result == v1.NOT_FOUND
    assert runner.read(BUF, 64) == bytes(64)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (FakeRequest(user=None), v1.NOT_FOUND),
        (FakeRequest(body=None), v1.NOT_FOUND),
        (FakeRequest(body=BodyTooLarge()), v1.TOO_LARGE),
    ],
    ids=["anonymous-user", "body-gone", "body-too-large"],
)
def test_request_reader_reports_a_missing_or_oversized_value(source, expected):
    name = "request_user" if source.user() is None else "request_body"
    runner = probe(name, BUF, 64, call=hook_call(request=source))
    assert runner.result == expected
    assert runner.read(BUF, 64) == bytes(64)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("accept", b"*/*"), ("ACCEPT", b"*/*"), ("Host", b"example.com"), ("x-missing", None), (b"\xff", None)],
)
def test_request_header_is_case_insensitive_and_minus_one_when_absent(name, expected):
    data, [(ptr, length)] = place(name)
    runner = probe("request_header", ptr, length, BUF, 64, call=hook_call(), data=data)
    assert runner.result == (v1.NOT_FOUND if expected is None else len(expected))
    assert runner.read(BUF, 16).rstrip(b"\0") == (expected or b"")


def test_request_header_without_a_request_returns_minus_one():
    data, [(ptr, length)] = place("accept")
    assert probe("request_header", ptr, length, BUF, 8, call=hook_call(Phase.CALL), data=data).result == -1


def test_request_headers_and_request_header_see_pending_changes():
    data, [name, value, accept, trace] = place("X-Trace", "abc", "Accept", "x-trace")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("request_set_header", *name, *value)})
      (drop {invoke("request_remove_header", *accept)})
      (drop {invoke("request_header", *trace, BUF + 512, 16)})
      (i32.store (i32.const {BUF + 600}) {invoke("request_header", *accept, BUF + 512, 16)})
      {invoke("request_headers", BUF, 256)})"""
    runner = Guest(guest(body, data=data), hook_call())
    runner()
    text = b"host: example.com\nx-trace: abc\n"
    assert runner.result == len(text)
    assert runner.read(BUF, len(text)) == text
    assert runner.read(BUF + 512, 3) == b"abc"
    assert int.from_bytes(runner.read(BUF + 600, 4), "little", signed=True) == v1.NOT_FOUND


def test_request_headers_are_read_from_the_request_once_per_call():
    source = FakeRequest()
    data, [host, other] = place("host", "other")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("request_header", *host, BUF, 16)})
      (drop {invoke("request_header", *other, BUF, 16)})
      (drop {invoke("request_headers", BUF, 64)})
      {invoke("request_header", *host, BUF, 16)})"""
    assert Guest(guest(body, data=data), hook_call(request=source))() == len("example.com")
    assert source.header_reads == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [("item", b"7"), ("missing", None), ("unmatched", None), (b"\xff", None)],
)
def test_route_param_returns_the_named_group_or_minus_one(name, expected):
    data, [(ptr, length)] = place(name)
    call = hook_call(route_params={"item": "7", "unmatched": None})
    runner = probe("route_param", ptr, length, BUF, 8, call=call, data=data)
    assert runner.result == (v1.NOT_FOUND if expected is None else len(expected))
    assert runner.read(BUF, 8).rstrip(b"\0") == (expected or b"")


@pytest.mark.parametrize("name", ["config", "input"])
@pytest.mark.parametrize("value", [b"", b'{"limit": 5}\x00\xff'])
@pytest.mark.parametrize("phase", list(Phase))
def test_config_and_input_return_the_given_bytes_in_every_phase(name, value, phase):
    runner = probe(name, BUF, 64, call=hook_call(phase, **{name: value}))
    assert runner.result == len(value)
    assert runner.read(BUF, 64) == value + bytes(64 - len(value))


# Request changers --------------------------------------------------------------------------


def test_request_set_header_records_a_pending_change():
    call = hook_call()
    data, [name, value] = place("X-Trace", "abc def")
    assert probe("request_set_header", *name, *value, call=call, data=data).result == v1.OK
    assert call.request_header_changes == {"x-trace": ("X-Trace", "abc def")}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"\xff", b"v"),
        (b"X-Ok", b"\xff"),
        (b"", b"v"),
        (b"Bad Name", b"v"),
        (b"X:Colon", b"v"),
        (b"X_Under", b"v"),
        (b"X-Ok", b"a\rb"),
        (b"X-Ok", b"a\nb"),
        (b"X-Ok", b"a\0b"),
    ],
)
def test_request_set_header_rejects_invalid_names_and_values(name, value):
    call = hook_call()
    data, [name_range, value_range] = place(name, value)
    runner = probe("request_set_header", *name_range, *value_range, call=call, data=data)
    assert runner.result == v1.INVALID
    assert call.request_header_changes == {}


@pytest.mark.parametrize(
    ("value", "expected"), [("é" * 3, v1.TOO_LARGE), ("é" * 2, v1.OK), ("abcde", v1.TOO_LARGE)]
)
@pytest.mark.parametrize("function", ["request_set_header", "response_set_header", "response_add_header"])
def test_header_values_are_limited_in_utf8_bytes(monkeypatch, function, value, expected):
    monkeypatch.setattr(v1, "MAX_HEADER_BYTES", 4)
    data, [name, value_range] = place("X-Long", value)
    assert probe(function, *name, *value_range, call=hook_call(), data=data).result == expected


@pytest.mark.parametrize(
    ("phase", "source"),
    [(Phase.RESPONSE, FakeRequest()), (Phase.CALL, None)],
    ids=["response", "call-without-request"],
)
@pytest.mark.parametrize("function", ["request_set_header", "request_remove_header"])
def test_request_changers_are_not_allowed_after_the_view_or_without_a_request(phase, source, function):
    call = hook_call(phase, request=source)
    data, [name, value] = place("Accept", "x")
    args = (*name, *value) if function == "request_set_header" else name
    assert probe(function, *args, call=call, data=data).result == v1.NOT_ALLOWED
    assert call.request_header_changes == {}


def test_request_changers_work_in_a_call_made_with_a_request():
    call = hook_call(Phase.CALL, request=FakeRequest())
    data, [name, value] = place("X-Priced", "yes")
    assert probe("request_set_header", *name, *value, call=call, data=data).result == v1.OK
    assert call.request_header_changes == {"x-priced": ("X-Priced", "yes")}


def test_request_remove_header_records_the_removal():
    call = hook_call()
    data, [name] = place("ACCEPT")
    assert probe("request_remove_header", *name, call=call, data=data).result == v1.OK
    assert call.request_header_changes == {"accept": ("ACCEPT", None)}


@pytest.mark.parametrize(
    ("name", "expected"), [("x-missing", v1.NOT_FOUND), ("bad name", v1.INVALID), (b"\xff", v1.INVALID)]
)
def test_request_remove_header_of_a_missing_or_invalid_name_changes_nothing(name, expected):
    call = hook_call()
    data, [name_range] = place(name)
    assert probe("request_remove_header", *name_range, call=call, data=data).result == expected
    assert call.request_header_changes == {}


def test_request_remove_header_sees_earlier_changes_of_the_same_call():
    data, [name, value] = place("X-New", "1")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("request_set_header", *name, *value)})
      (i32.store (i32.const {BUF}) {invoke("request_remove_header", *name)})
      {invoke("request_remove_header", *name)})"""
    runner = Guest(guest(body, data=data), hook_call())
    assert runner() == v1.NOT_FOUND
    assert runner.read(BUF, 4) == bytes(4)  # the first removal succeeded


# Context -----------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", list(Phase))
def test_context_set_records_a_change_that_context_get_sees(phase):
    call = hook_call(phase, request=FakeRequest())
    data, [key, value] = place("tenant", "acme")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("context_set", *key, *value)})
      {invoke("context_get", *key, BUF, 16)})"""
    runner = Guest(guest(body, data=data), call)
    assert runner() == 4
    assert runner.read(BUF, 5) == b"acme\0"
    assert call.context_changes == {"tenant": "acme"}


@pytest.mark.parametrize(
    ("key", "expected"), [("tenant", b"initech"), ("missing", None), ("", None), (b"\xff", None)]
)
def test_context_get_reads_the_request_context(key, expected):
    call = hook_call(request=FakeRequest(context={"tenant": "initech"}))
    data, [key_range] = place(key)
    runner = probe("context_get", *key_range, BUF, 16, call=call, data=data)
    assert runner.result == (v1.NOT_FOUND if expected is None else len(expected))
    assert runner.read(BUF, 16).rstrip(b"\0") == (expected or b"")


def test_context_get_without_a_request_returns_minus_one():
    data, [key] = place("tenant")
    assert probe("context_get", *key, BUF, 16, call=hook_call(Phase.CALL), data=data).result == -1


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("", "v", v1.INVALID),
        (b"\xff", "v", v1.INVALID),
        ("k", b"\xff", v1.INVALID),
        ("k", "", v1.OK),
        ("k", "x" * 6, v1.TOO_LARGE),
    ],
)
def test_context_set_validates_its_arguments(monkeypatch, key, value, expected):
    monkeypatch.setattr(v1, "MAX_CONTEXT_BYTES", 6)
    call = hook_call()
    data, [key_range, value_range] = place(key, value)
    assert probe("context_set", *key_range, *value_range, call=call, data=data).result == expected
    assert call.context_changes == ({"k": ""} if expected == v1.OK else {})


def test_context_set_without_a_request_is_not_allowed():
    call = hook_call(Phase.CALL)
    data, [key, value] = place("k", "v")
    assert probe("context_set", *key, *value, call=call, data=data).result == v1.NOT_ALLOWED
    assert call.context_changes == {}


def test_a_call_without_a_request_has_no_headers():
    call = HookCall(phase=Phase.CALL, module="m")
    assert (call.request_header("host"), call.request_headers(), call.request_headers()) == (None, {}, {})


def test_str_subclasses_reach_the_guest_as_text():
    from django.utils.safestring import mark_safe

    data, [key] = place("k")
    call = hook_call(request=FakeRequest(context={"k": mark_safe("<b>safe</b>")}))
    runner = probe("context_get", *key, BUF, 16, call=call, data=data)
    assert runner.result == len("<b>safe</b>")
    assert runner.read(BUF, runner.result) == b"<b>safe</b>"
