"""Adapters between Django's request, response and cache and what the ABI sees.

The ABI layer knows nothing of Django: it reads a `RequestSource`, builds a `ResponseDraft`
and talks to a `KeyValueStore`. These classes provide them, and apply a successful call's
changes back onto the real request and response.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Mapping

from django.core.cache import caches
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from django.utils.http import parse_header_parameters

from wasmhooks.abi.state import BodyTooLarge, HookCall, NotAnInteger, ResponseDraft

CONTEXT_ATTRIBUTE = "wasmhooks"
_UNPREFIXED_HEADERS = frozenset({"content-type", "content-length"})
# Canonical decimals only (fullmatch: "$" would accept a trailing newline); "-0" and "05" stay bytes.
_DECIMAL = re.compile(rb"0|-?[1-9][0-9]{0,18}")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def request_context(request: HttpRequest) -> dict[str, str]:
    """`request.wasmhooks`: the values hooks set with `context_set`, created on first use."""
    context: dict[str, str] | None = getattr(request, CONTEXT_ATTRIBUTE, None)
    if context is None:
        context = {}
        setattr(request, CONTEXT_ATTRIBUTE, context)
    return context


_ALL_HEADERS: tuple[str, ...] = ("*",)
_meta_keys: dict[str, tuple[str, ...]] = {}


def _meta_keys_of(lower_name: str) -> tuple[str, ...]:
    """The META keys that hold the header `lower_name`, as Django's `HttpHeaders` maps them;
    `_ALL_HEADERS` when only building all of them tells."""
    if "_" in lower_name:
        keys: tuple[str, ...] = ()  # Django turns every "_" of a META key into "-"
    elif not lower_name.isascii():  # str.upper() and str.title() may disagree beyond ASCII
        keys = _ALL_HEADERS
    else:
        key = lower_name.upper().replace("-", "_")
        keys = (key, "HTTP_" + key) if lower_name in _UNPREFIXED_HEADERS else ("HTTP_" + key,)
    # Guests ask for a handful of short names: never keep what a guest could grow without bound.
    if len(lower_name) <= 64 and len(_meta_keys) < 4096:
        _meta_keys[lower_name] = keys
    return keys


class DjangoRequestSource:
    """A Django `HttpRequest` as the ABI reads it."""

    __slots__ = ("request",)

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def method(self) -> str:
        return self.request.method or ""

    def path(self) -> str:
        return self.request.path

    def query(self) -> str:
        return str(self.request.META.get("QUERY_STRING", ""))

    def headers(self) -> Mapping[str, str]:
        return {name.lower(): value for name, value in self.request.headers.items()}

    def header(self, lower_name: str) -> str | None:
        # What `headers()` would hold under this name, read straight from META.
        keys = _meta_keys.get(lower_name)
        if keys is None:
            keys = _meta_keys_of(lower_name)
        if keys is _ALL_HEADERS:
            return self.headers().get(lower_name)
        meta = self.request.META
        for key in keys:
            value = meta.get(key)
            if value is not None:
                return str(value)
        return None

    def body(self) -> bytes | None:
        try:
            return self.request.body
        except RequestDataTooBig:
            raise BodyTooLarge from None
        except RawPostDataException:
            return None  # already consumed as a stream by earlier code

    def client_ip(self) -> str:
        return str(self.request.META.get("REMOTE_ADDR", ""))

    def user(self) -> str | None:
        user = getattr(self.request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return str(user.get_username())

    def context(self) -> Mapping[str, str]:
        return request_context(self.request)


def _meta_key(lower_name: str) -> str:
    if lower_name in ("content-type", "content-length"):
        return lower_name.upper().replace("-", "_")
    return "HTTP_" + lower_name.upper().replace("-", "_")


def apply_request_changes(request: HttpRequest, call: HookCall) -> None:
    """Apply a successful call's request header and context changes to `request`."""
    if call.request_header_changes:
        for lower, (_name, value) in call.request_header_changes.items():
            if value is None:
                request.META.pop(_meta_key(lower), None)
            else:
                request.META[_meta_key(lower)] = value
        request.__dict__.pop("headers", None)  # HttpRequest.headers is a cached_property
        if "content-type" in call.request_header_changes:
            _refresh_content_type(request)
    if call.context_changes:
        request_context(request).update(call.context_changes)


def _refresh_content_type(request: HttpRequest) -> None:
    """Re-derive what Django parsed from Content-Type when the request was built, so that
    `request.POST` and `request.encoding` follow a hook's new Content-Type."""
    content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    request.content_type, request.content_params = content_type, params
    charset = params.get("charset")
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            return
        request.encoding = charset


def draft_of(response: HttpResponseBase) -> ResponseDraft:
    """The view's response as the guest sees it in `on_response`."""
    headers = {name.lower(): (name, value) for name, value in response.items()}
    if response.cookies:
        cookies = ", ".join(morsel.OutputString() for morsel in response.cookies.values())
        headers["set-cookie"] = ("Set-Cookie", cookies)
    streaming = bool(getattr(response, "streaming", False))
    body = None if streaming else getattr(response, "content", None)
    return ResponseDraft(status=response.status_code, headers=headers, body=body, streaming=streaming)


def answer_from(draft: ResponseDraft) -> HttpResponse:
    """The response a guest answered with in `on_request` (status 200 unless it set one).

    Its headers are not applied here: the pipeline replays every binding's header changes,
    in order, on whatever response comes back.
    """
    response = HttpResponse(draft.body or b"", status=draft.status or 200)
    if any(name.lower() == "content-type" for _operation, name, _value in draft.operations):
        # The guest built this response from nothing: its own Content-Type, replayed later,
        # must not be joined to Django's default.
        del response["Content-Type"]
    return response


def apply_response_changes(response: HttpResponseBase, draft: ResponseDraft) -> None:
    """Apply what a successful `on_response` changed: status, body, then headers."""
    if draft.status_changed and draft.status is not None:
        response.status_code = draft.status
    if draft.body_changed and isinstance(response, HttpResponse):
        response.content = draft.body or b""
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
    apply_header_operations(response, draft)


def apply_header_operations(response: HttpResponseBase, draft: ResponseDraft) -> None:
    """Replay a draft's header operations, in order, on a real response.

    Django holds one value per header, so "add" joins values with ", "; `Set-Cookie` goes to
    `response.cookies` instead, one cookie per added value.
    """
    for operation, name, value in draft.operations:
        if name.lower() == "set-cookie":
            _apply_cookie(response, operation, value)
        elif operation == "set":
            response[name] = value
        elif operation == "add":
            response[name] = f"{response[name]}, {value}" if response.has_header(name) else value
        else:
            response.headers.pop(name, None)


def _apply_cookie(response: HttpResponseBase, operation: str, value: str) -> None:
    # The ABI lets through only values that load as exactly one cookie (`v1._one_cookie`).
    if operation in ("set", "remove"):
        response.cookies.clear()
    if operation in ("set", "add"):
        response.cookies.load(value)


_stores: dict[tuple[str, str], CacheKeyValueStore] = {}


class CacheKeyValueStore:
    """The guests' key-value store on a Django cache, namespaced per module.

    A key (up to `MAX_KV_KEY_BYTES` of any bytes) is stored as
    `wasmhooks:kv:<module>:<sha256 of the key, in hex>`: whatever the key, 78 characters
    plus the module name's, none of which any backend refuses (memcached takes 250).

    Decimal integers are stored as Python ints so that `incr` works on every backend
    (Redis stores them as native integers and increments them atomically).
    """

    __slots__ = ("alias", "prefix")

    def __init__(self, alias: str, module: str) -> None:
        self.alias = alias
        self.prefix = f"wasmhooks:kv:{module}:"

    @classmethod
    def of(cls, alias: str, module: str) -> CacheKeyValueStore:
        """The store of `module` on the cache `alias`: one object for all calls (it holds no state)."""
        store = _stores.get((alias, module))
        if store is None:
            store = cls(alias, module)
            if len(_stores) < 4096:  # a few modules and caches; never grow without bound
                _stores[(alias, module)] = store
        return store

    def _key(self, key: bytes) -> str:
        return self.prefix + hashlib.sha256(key).hexdigest()

    def get(self, key: bytes) -> bytes | None:
        value = caches[self.alias].get(self._key(key))
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value).encode()
        return value if isinstance(value, bytes) else None

    def set(self, key: bytes, value: bytes, ttl_seconds: int) -> None:
        stored: bytes | int = value
        if _DECIMAL.fullmatch(value) and _I64_MIN <= int(value) <= _I64_MAX:
            stored = int(value)
        caches[self.alias].set(self._key(key), stored, timeout=ttl_seconds or None)

    def incr(self, key: bytes, delta: int) -> int:
        cache, cache_key = caches[self.alias], self._key(key)
        current = cache.get(cache_key)
        if current is not None and (isinstance(current, bool) or not isinstance(current, int)):
            raise NotAnInteger
        if current is None:
            cache.add(cache_key, 0, timeout=None)
        try:
            return int(cache.incr(cache_key, delta))
        except ValueError:
            # Expired or deleted between add and incr: start again from 0, once.
            cache.add(cache_key, 0, timeout=None)
            return int(cache.incr(cache_key, delta))

    def delete(self, key: bytes) -> bool:
        return bool(caches[self.alias].delete(self._key(key)))
