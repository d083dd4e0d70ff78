"""The bindings and modules in force in this process, picked up from the database without a restart.

The middleware reads a `HooksSnapshot` held in memory. At most every
`WASMHOOKS_RELOAD_INTERVAL` seconds one request thread reads `HooksRevision` (one indexed
row); when it moved, it reloads the enabled bindings and active versions and swaps the
snapshot in whole. Other threads keep serving the old snapshot meanwhile, and a request that
started on it finishes on it (the middleware keeps it on the request). Between two looks a
request pays one clock read.

Saves and deletes bump the revision in their own transaction (`bump_revision`), so every
process that shares the database sees the change at its next look; the process that made
it looks again at once. Each bump also draws a new random token, so a revision that was
rolled back is never mistaken for a later one that reached the same number. A load is
consistent: the revision is read again after the rows, and the rows are read again if it
moved meanwhile.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from wasmhooks.runtime import HookError, ModuleInvalid
from wasmhooks.runtime.engine import ForkSafeLock

from . import registry
from .conf import DEFAULT_RELOAD_INTERVAL, conf
from .registry import LoadedModule, ModuleNotFound
from .routing import Binding, BindingError, RouteTable, settings_bindings

logger = logging.getLogger("wasmhooks")

REVISION_PK = 1
MAX_READS = 3
"""How many times a load reads the rows again when they change while it reads them."""
REQUEST_ATTRIBUTE = "_wasmhooks_snapshot"
"""Where the middleware keeps the snapshot a request started with."""


@dataclass(frozen=True)
class Revision:
    """Which change to stored modules or bindings the database is at: a count and a token."""

    number: int
    token: str


NO_REVISION = Revision(0, "")


@dataclass(frozen=True)
class HooksSnapshot:
    """Every binding in force and the database modules they may name, as of `revision`.

    `revision` is None when the database could not be read; the snapshot then holds what
    the settings define (at start-up) or what was last read.
    """

    revision: Revision | None
    routes: RouteTable
    modules: Mapping[str, LoadedModule | HookError] = field(default_factory=dict)

    def module(self, name: str) -> LoadedModule:
        """The module `name`: from `WASMHOOKS_MODULES` first, then the database.

        Raises `ModuleNotFound`, or `ModuleInvalid` for a stored version that does not load.
        """
        if in_settings(name):
            return registry.get_module(name)
        found = self.modules.get(name)
        if found is None:
            raise ModuleNotFound(f"no module named {name!r}", module=name)
        if isinstance(found, HookError):
            raise found
        return found


def resolve(name: str, request: HttpRequest | None = None) -> LoadedModule:
    """The module `name`: from the snapshot `request` started with, if any; else from the
    settings, looking at the database only if they do not define it.

    Raises `ModuleNotFound` or `ModuleInvalid`, as `HooksSnapshot.module` does.
    """
    started_with = of_request(request)
    if started_with is not None:
        return started_with.module(name)
    if in_settings(name):
        return registry.get_module(name)
    return current().module(name)


def in_settings(name: str) -> bool:
    """Whether `WASMHOOKS_MODULES` defines the module `name` (which then wins over a stored one)."""
    settings_modules = conf.MODULES
    return isinstance(settings_modules, dict) and name in settings_modules


def of_request(request: HttpRequest | None) -> HooksSnapshot | None:
    """The snapshot the middleware matched `request` against, if it did."""
    found = getattr(request, REQUEST_ATTRIBUTE, None)
    return found if isinstance(found, HooksSnapshot) else None


def keep_on_request(request: HttpRequest, snapshot: HooksSnapshot) -> None:
    setattr(request, REQUEST_ATTRIBUTE, snapshot)


_snapshot: HooksSnapshot | None = None
_next_look = 0.0
_stale = True
_versions: dict[tuple[int, str], LoadedModule | HookError] = {}
_lock = ForkSafeLock()


def cached() -> HooksSnapshot | None:
    """The snapshot if no look at the database is due; else None (call `current()`)."""
    snapshot = _snapshot
    if snapshot is None or _stale or time.monotonic() >= _next_look:
        return None
    return snapshot


def current() -> HooksSnapshot:
    """The snapshot in force, after a look at the database if one is due.

    May query the database, so call it from synchronous code. Raises `BindingError` when
    `WASMHOOKS_BINDINGS` is invalid (the system checks report it).
    """
    snapshot = cached()
    if snapshot is not None:
        return snapshot
    # One thread looks; the others serve the snapshot they have, if any.
    if not _lock.acquire(blocking=_snapshot is None):
        assert _snapshot is not None
        return _snapshot
    try:
        return _refresh()
    finally:
        _lock.release()


def _refresh() -> HooksSnapshot:
    global _snapshot, _next_look, _stale
    snapshot = _snapshot
    if snapshot is not None and not _stale and time.monotonic() < _next_look:
        return snapshot  # another thread looked while this one waited
    forced = _stale or snapshot is None
    _stale = False
    interval = reload_interval()
    try:
        revision = read_revision()
        if forced or snapshot is None or revision != snapshot.revision:
            snapshot = _load(revision) or snapshot
    except DatabaseError as exc:
        logger.error("wasmhooks: cannot read hooks from the database: %s", exc)
    if snapshot is None:
        # Nothing read yet: serve what the settings define until the database answers.
        snapshot = HooksSnapshot(None, RouteTable(settings_bindings()))
    _snapshot = snapshot
    _next_look = time.monotonic() + interval
    return snapshot


def reload_interval() -> float:
    """`WASMHOOKS_RELOAD_INTERVAL`, or its default while it is invalid (check E008 says so)."""
    interval = conf.RELOAD_INTERVAL
    return float(interval) if valid_reload_interval(interval) else DEFAULT_RELOAD_INTERVAL


def valid_reload_interval(value: Any) -> bool:
    """Whether `value` is a number of seconds, 0 or more, as `WASMHOOKS_RELOAD_INTERVAL` must be."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value < math.inf


def read_revision() -> Revision:
    """The latest change to stored modules or bindings (`NO_REVISION` before any)."""
    from .models import HooksRevision

    rows = HooksRevision.objects.filter(pk=REVISION_PK).values_list("number", "token")
    return next((Revision(number, token) for number, token in rows), NO_REVISION)


@dataclass
class _Rows:
    """What one read of the database found: active versions, the ones this process lacks
    (loaded from compiled artifacts, or their binaries), bindings."""

    active: list[tuple[str, int]]
    known: dict[int, LoadedModule | HookError]
    binaries: dict[int, bytes]
    bindings: list[Any]


def _read_rows() -> _Rows | None:
    """Read the active versions, load those this process lacks from the host's compiled
    artifacts or else read their binaries, and read the enabled bindings.

    Returns None when a version went away between two of these queries.
    """
    from .models import HookBinding, WasmModule, WasmModuleVersion

    active = list(
        WasmModule.objects.filter(active_version__isnull=False).values_list("name", "active_version_id")
    )
    missing = {version_id: name for name, version_id in active if (version_id, name) not in _versions}
    known: dict[int, LoadedModule | HookError] = {}
    digests = WasmModuleVersion.objects.filter(pk__in=missing).values_list("pk", "sha256", "size")
    for version_id, sha256, size in digests:
        found: LoadedModule | HookError | None
        try:
            found = registry.load_known(sha256, size, missing[version_id])
        except ModuleInvalid as exc:
            found = exc
        if found is not None:
            known[version_id] = found
    binaries = _fetch_binaries(set(missing) - set(known))
    if set(binaries) | set(known) != set(missing):
        return None
    bindings = list(HookBinding.objects.filter(enabled=True).select_related("module"))
    return _Rows(active, known, binaries, bindings)


def _fetch_binaries(version_ids: set[int]) -> dict[int, bytes]:
    """The binaries of these versions, by id; a version deleted meanwhile is left out."""
    from .models import WasmModuleVersion

    if not version_ids:
        return {}
    rows = WasmModuleVersion.objects.filter(pk__in=version_ids).values_list("pk", "binary")
    return {pk: bytes(binary) for pk, binary in rows}


def _load(revision: Revision) -> HooksSnapshot | None:
    """Read the active versions and enabled bindings into a new snapshot, as of one revision.

    Returns None (and leaves the process stale) if they kept changing while read.
    """
    for _ in range(MAX_READS):
        rows = _read_rows()
        after = read_revision()
        if rows is not None and after == revision:
            return _build(revision, rows)
        revision = after
    logger.warning("wasmhooks: stored hooks changed during %d reads in a row; looking again", MAX_READS)
    mark_stale()
    return None


def _build(revision: Revision, rows: _Rows) -> HooksSnapshot:
    """Compile the versions this process lacks and make the snapshot of `rows`."""
    global _versions
    bindings: list[Binding] = settings_bindings()
    settings_modules = conf.MODULES if isinstance(conf.MODULES, dict) else {}
    modules: dict[str, LoadedModule | HookError] = {}
    loaded_versions: dict[tuple[int, str], LoadedModule | HookError] = {}
    for name, version_id in rows.active:
        if name in settings_modules:
            logger.error(
                "wasmhooks: module %r is defined in WASMHOOKS_MODULES and in the database; "
                "the settings one runs (check wasmhooks.E011)",
                name,
            )
            continue
        key = (version_id, name)
        loaded = _versions.get(key) or rows.known.get(version_id)
        if loaded is None:
            try:
                loaded = registry.load_wasm(rows.binaries[version_id], name)
            except ModuleInvalid as exc:
                loaded = exc
        if isinstance(loaded, ModuleInvalid) and key not in _versions:
            logger.error(
                "wasmhooks: stored module %r (version id %s) does not load: %s", name, version_id, loaded
            )
        modules[name] = loaded_versions[key] = loaded
    for row in rows.bindings:
        try:
            bindings.append(row.to_binding())
        except BindingError as exc:
            logger.error("wasmhooks: binding %s (%s) is invalid and does not run: %s", row.label, row, exc)
    _versions = loaded_versions
    return HooksSnapshot(revision, RouteTable(bindings), modules)


def bump_revision(using: str | None = None, **kwargs: Any) -> None:
    """Record a change to stored modules or bindings; connected to their save and delete signals."""
    from .models import HooksRevision

    with transaction.atomic(using=using):
        moved = HooksRevision.objects.using(using).filter(pk=REVISION_PK)
        change = {"number": F("number") + 1, "token": uuid.uuid4().hex, "changed_at": timezone.now()}
        if not moved.update(**change):
            _create_revision_row(using)
            moved.update(**change)
    mark_stale()
    # Look again once the change is visible to every connection, not just this one.
    transaction.on_commit(mark_stale, using=using)


def lock_for_writing(using: str | None = None) -> None:
    """Take the write lock that every change takes, without recording a change.

    Call it first in a transaction that reads before it writes: SQLite then waits for other
    writers instead of failing with "database is locked", and PostgreSQL orders the writers.
    """
    from .models import HooksRevision

    if not HooksRevision.objects.using(using).filter(pk=REVISION_PK).update(number=F("number")):
        _create_revision_row(using)


def _create_revision_row(using: str | None) -> None:
    """The revision row at 0, for the first change ever (or after a flush); another process
    may be creating it at the same moment."""
    from .models import HooksRevision

    HooksRevision.objects.using(using).bulk_create(
        [HooksRevision(pk=REVISION_PK, number=0)], ignore_conflicts=True
    )


def mark_stale() -> None:
    """Make the next request in this process look at the database."""
    global _stale
    _stale = True


def reset() -> None:
    """Forget the snapshot and loaded versions; the next request reads everything again."""
    global _snapshot, _versions, _stale
    _snapshot = None
    _versions = {}
    _stale = True
