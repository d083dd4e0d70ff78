"""The bindings and modules in force in this process, picked up from the database without a restart.

The middleware reads a `HooksSnapshot` held in memory. At most every
`WASMHOOKS_RELOAD_INTERVAL` seconds one request thread reads `HooksRevision` (one indexed
row); when its number moved, it reloads the enabled bindings and active versions and swaps
the snapshot in whole. Other threads keep serving the old snapshot meanwhile, and a request
that started on it finishes on it. Between two looks a request pays one clock read.

Saves and deletes bump the revision in their own transaction (`bump_revision`), so every
process that shares the database sees the change at its next look; the process that made
it looks again at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from wasmhooks.runtime import HookError, ModuleInvalid
from wasmhooks.runtime.engine import ForkSafeLock

from . import registry
from .conf import DEFAULT_RELOAD_INTERVAL, conf
from .registry import LoadedModule, ModuleNotFound
from .routing import Binding, BindingError, RouteTable, settings_bindings

logger = logging.getLogger("wasmhooks")

REVISION_PK = 1


@dataclass(frozen=True)
class HooksSnapshot:
    """Every binding in force and the database modules they may name, as of `revision`.

    `revision` is None when the database could not be read; the snapshot then holds what
    the settings define (at start-up) or what was last read.
    """

    revision: int | None
    routes: RouteTable
    modules: Mapping[str, LoadedModule | HookError] = field(default_factory=dict)

    def module(self, name: str) -> LoadedModule:
        """The module `name`: from `WASMHOOKS_MODULES` first, then the database.

        Raises `ModuleNotFound`, or `ModuleInvalid` for a stored version that does not load.
        """
        settings_modules = conf.MODULES
        if isinstance(settings_modules, dict) and name in settings_modules:
            return registry.get_module(name)
        found = self.modules.get(name)
        if found is None:
            raise ModuleNotFound(f"no module named {name!r}", module=name)
        if isinstance(found, HookError):
            raise found
        return found


def resolve(name: str) -> LoadedModule:
    """The module `name`, looking at the database only if the settings do not define it.

    Raises `ModuleNotFound` or `ModuleInvalid`, as `HooksSnapshot.module` does.
    """
    settings_modules = conf.MODULES
    if isinstance(settings_modules, dict) and name in settings_modules:
        return registry.get_module(name)
    return current().module(name)


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
            snapshot = _load(revision)
    except DatabaseError as exc:
        logger.error("wasmhooks: cannot read hooks from the database: %s", exc)
        if snapshot is None:
            snapshot = HooksSnapshot(None, RouteTable(settings_bindings()))
    _snapshot = snapshot
    _next_look = time.monotonic() + interval
    return snapshot


def reload_interval() -> float:
    """`WASMHOOKS_RELOAD_INTERVAL`, or its default while it is invalid (check E008 says so)."""
    interval = conf.RELOAD_INTERVAL
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 <= interval < math.inf:
        return DEFAULT_RELOAD_INTERVAL
    return float(interval)


def read_revision() -> int:
    """The number of the latest change to stored modules or bindings (0 before any)."""
    from .models import HooksRevision

    numbers = HooksRevision.objects.filter(pk=REVISION_PK).values_list("number", flat=True)
    return next(iter(numbers), 0)


def _load(revision: int) -> HooksSnapshot:
    """Read the active versions and enabled bindings into a new snapshot."""
    global _versions
    from .models import HookBinding, WasmModule, WasmModuleVersion

    bindings: list[Binding] = settings_bindings()
    settings_modules = conf.MODULES if isinstance(conf.MODULES, dict) else {}
    modules: dict[str, LoadedModule | HookError] = {}
    loaded_versions: dict[tuple[int, str], LoadedModule | HookError] = {}
    active = WasmModule.objects.filter(active_version__isnull=False).values_list("name", "active_version_id")
    for name, version_id in active:
        if name in settings_modules:
            logger.error(
                "wasmhooks: module %r is defined in WASMHOOKS_MODULES and in the database; "
                "the settings one runs (check wasmhooks.E011)",
                name,
            )
            continue
        key = (version_id, name)
        loaded = _versions.get(key)
        if loaded is None:
            binary = WasmModuleVersion.objects.values_list("binary", flat=True).get(pk=version_id)
            try:
                loaded = registry.load_wasm(bytes(binary), name)
            except ModuleInvalid as exc:
                logger.error(
                    "wasmhooks: stored module %r (version id %s) does not load: %s", name, version_id, exc
                )
                loaded = exc
        modules[name] = loaded_versions[key] = loaded
    for row in HookBinding.objects.filter(enabled=True).select_related("module"):
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
        if not moved.update(number=F("number") + 1, changed_at=timezone.now()):
            # The first change ever (or after a flush); another process may be making it too.
            HooksRevision.objects.using(using).bulk_create(
                [HooksRevision(pk=REVISION_PK, number=0)], ignore_conflicts=True
            )
            moved.update(number=F("number") + 1, changed_at=timezone.now())
    mark_stale()
    # Look again once the change is visible to every connection, not just this one.
    transaction.on_commit(mark_stale, using=using)


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
