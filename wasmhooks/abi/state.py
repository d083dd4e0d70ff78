"""What one hook call sees and changes, independent of any web framework.

The Django layer fills a `HookCall` from the request (through a `RequestSource`) and applies
what the guest changed once the call has succeeded; a failed call's changes are simply
dropped with the `HookCall`, so nothing half-done reaches the request or the response.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from typing import Protocol

# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def valid_header_name(name: str) -> bool:
    known = _checked_names.get(name)
    if known is None:
        known = bool(_HEADER_NAME.match(name))
        # Guests use a handful of short names: never keep what a guest could grow without bound.
        if len(name) <= _MAX_CHECKED_NAME_LENGTH and len(_checked_names) < _MAX_CHECKED_NAMES:
            _checked_names[name] = known
    return known


_checked_names: dict[str, bool] = {}
_MAX_CHECKED_NAMES = 4096
_MAX_CHECKED_NAME_LENGTH = 64


def valid_header_value(value: str) -> bool:
    return not _FORBIDDEN_IN_VALUE.search(value)


class Phase(enum.Enum):
    REQUEST = "on_request"
    RESPONSE = "on_response"
    CALL = "call"


class BodyTooLarge(Exception):
    """The request body is over the size the site accepts."""


class NotAnInteger(Exception):
    """`kv_incr` met a value that is not a decimal integer."""


class RequestSource(Protocol):
    """The incoming request, read-only. The Django layer implements it."""

    def method(self) -> str: ...
    def path(self) -> str: ...
    def query(self) -> str: ...
    def headers(self) -> Mapping[str, str]:
        """Header values by lower-case name; repeated headers already joined with ", "."""
        ...

    def header(self, lower_name: str) -> str | None:
        """One value of `headers()`, without building all of them."""
        ...

    def body(self) -> bytes | None:
        """None when it can no longer be read; raises `BodyTooLarge` past the site's limit."""
        ...

    def client_ip(self) -> str: ...
    def user(self) -> str | None: ...
    def context(self) -> Mapping[str, str]: ...


class KeyValueStore(Protocol):
    """A key-value store shared across processes, already namespaced for one module."""

    def get(self, key: bytes) -> bytes | None: ...
    def set(self, key: bytes, value: bytes, ttl_seconds: int) -> None: ...
    def incr(self, key: bytes, delta: int) -> int:
        """Atomic; a missing key starts at 0. Raises `NotAnInteger`."""
        ...

    def delete(self, key: bytes) -> bool: ...


class MemoryKeyValueStore:
    """A key-value store in a dict, for calls whose writes must go nowhere (checks, try-it)."""

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def set(self, key: bytes, value: bytes, ttl_seconds: int) -> None:
        self.values[key] = value

    def incr(self, key: bytes, delta: int) -> int:
        current = self.values.get(key, b"0")
        if not current.removeprefix(b"-").isdigit():
            raise NotAnInteger
        number = int(current) + delta
        self.values[key] = str(number).encode()
        return number

    def delete(self, key: bytes) -> bool:
        return self.values.pop(key, None) is not None


class ResponseDraft:
    """The response as a guest sees it: the one it is building, or the view's.

    `operations` records the header changes in order, to be replayed on the real response
    the draft was built from (on whatever response comes back, for a draft built from
    nothing); `headers` is the resulting view the guest reads, by lower-case name.
    """

    __slots__ = (
        "body",
        "body_changed",
        "headers",
        "initial_names",
        "operations",
        "status",
        "status_changed",
        "streaming",
    )

    def __init__(
        self,
        status: int | None = None,
        headers: dict[str, tuple[str, str]] | None = None,
        body: bytes | None = b"",
        streaming: bool = False,
    ) -> None:
        self.status = status
        self.headers: dict[str, tuple[str, str]] = headers if headers is not None else {}
        self.body = body
        self.streaming = streaming
        self.body_changed = False
        self.status_changed = False
        self.operations: list[tuple[str, str, str]] = []
        self.initial_names = frozenset(self.headers) if self.headers else _NO_NAMES
        """Lower-case names of the headers the draft started with: the ones a removal must replay."""

    def set_header(self, name: str, value: str) -> None:
        self.headers[name.lower()] = (name, value)
        self.operations.append(("set", name, value))

    def add_header(self, name: str, value: str) -> None:
        existing = self.headers.get(name.lower())
        joined = f"{existing[1]}, {value}" if existing else value
        self.headers[name.lower()] = (existing[0] if existing else name, joined)
        self.operations.append(("add", name, value))

    def remove_header(self, name: str) -> bool:
        """Remove a header; False when there is none.

        The removal replaces this draft's earlier changes to that name, and is itself
        recorded only for a header the draft started with: removing a header the guest
        set on a draft built from nothing must not remove another's header of that name.
        """
        lower = name.lower()
        if self.headers.pop(lower, None) is None:
            return False
        self.operations = [operation for operation in self.operations if operation[1].lower() != lower]
        if lower in self.initial_names:
            self.operations.append(("remove", name, ""))
        return True


_NO_NAMES: frozenset[str] = frozenset()
_GUEST_LOGGER = logging.getLogger("wasmhooks.guest")


class HookCall:
    """The state of one guest call: inputs, and the changes it made so far."""

    __slots__ = (
        "_headers",
        "config",
        "context_changes",
        "held_bytes",
        "input",
        "kv",
        "kv_writes",
        "kv_written_bytes",
        "log_records",
        "logger",
        "module",
        "output",
        "phase",
        "request",
        "request_header_changes",
        "response",
        "route_params",
    )

    def __init__(
        self,
        phase: Phase,
        module: str,
        request: RequestSource | None = None,
        response: ResponseDraft | None = None,
        route_params: Mapping[str, str | None] | None = None,
        config: bytes = b"",
        input: bytes = b"",
        kv: KeyValueStore | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.phase = phase
        self.module = module
        self.request = request
        self.response = response if response is not None else ResponseDraft()
        self.route_params: Mapping[str, str | None] = route_params if route_params is not None else {}
        self.config = config
        self.input = input
        self.kv = kv
        self.logger = logger if logger is not None else _GUEST_LOGGER
        self.output = bytearray()
        self.request_header_changes: dict[str, tuple[str, str | None]] = {}
        """Pending request header changes by lower-case name: (name, value), value None = removed."""
        self.context_changes: dict[str, str] = {}
        self.held_bytes = 0
        """Bytes of header and context changes this call asked the host to keep."""
        self.log_records = 0
        self.kv_writes = 0
        self.kv_written_bytes = 0
        self._headers: Mapping[str, str] | None = None

    def request_headers(self) -> dict[str, str]:
        """The request headers with this call's pending changes applied."""
        if self._headers is None:
            self._headers = self.request.headers() if self.request is not None else {}
        if not self.request_header_changes:
            return dict(self._headers)
        merged = dict(self._headers)
        for lower, (_name, value) in self.request_header_changes.items():
            if value is None:
                merged.pop(lower, None)
            else:
                merged[lower] = value
        return merged

    def request_header(self, lower_name: str) -> str | None:
        change = self.request_header_changes.get(lower_name)
        if change is not None:
            return change[1]
        if self.request is None:
            return None
        return self.request.header(lower_name)

    def context_value(self, key: str) -> str | None:
        if key in self.context_changes:
            return self.context_changes[key]
        if self.request is None:
            return None
        return self.request.context().get(key)
