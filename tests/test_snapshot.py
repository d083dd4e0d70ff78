"""The hooks snapshot: stored bindings and modules picked up in this process, and when it looks.

Cross-process reload under real servers is in test_reload.py; these tests drive one process
and control its clock.
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.http import HttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import wasmhooks
from tests.wat import Guest
from wasmhooks import snapshot
from wasmhooks.models import HookBinding, HooksRevision, WasmModule, WasmModuleVersion
from wasmhooks.pipeline import HookPipeline
from wasmhooks.registry import ModuleNotFound
from wasmhooks.routing import BindingError
from wasmhooks.runtime import ModuleInvalid
from wasmhooks.testutils import override_hooks, reset_state
from wasmhooks.uploads import activate, store_upload


def tagging(value: str, header: str = "X-Hook") -> bytes:
    g = Guest()
    return g.build(on_request=[g.do("response_set_header", header, value)])


def stored(name: str = "tag", value: str = "v1", **binding: object) -> WasmModule:
    module = store_upload(name, tagging(value)).module
    if binding:
        HookBinding.objects.create(module=module, **binding)
    return module


class Clock:
    """Stands in for `time.monotonic` in `wasmhooks.snapshot`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(snapshot.time, "monotonic", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def bump_elsewhere() -> None:
    """What this process sees when another process commits a change: the revision moved, no signal."""
    HooksRevision.objects.filter(pk=snapshot.REVISION_PK).update(
        number=HooksRevision.objects.get().number + 1
    )


def test_a_stored_binding_runs_on_the_next_request(client):
    assert "X-Hook" not in client.get("/x")
    stored(pattern="^/")
    assert client.get("/x")["X-Hook"] == "v1"


def test_disabled_deleted_and_unbound_bindings_stop(client):
    module = stored(pattern="^/")
    binding = HookBinding.objects.get()
    binding.enabled = False
    binding.save()
    assert "X-Hook" not in client.get("/x")
    binding.enabled = True
    binding.save()
    assert client.get("/x")["X-Hook"] == "v1"
    binding.delete()
    assert "X-Hook" not in client.get("/x")
    HookBinding.objects.create(module=module, pattern="^/")
    assert client.get("/x")["X-Hook"] == "v1"
    module.delete()
    assert "X-Hook" not in client.get("/x")


def test_a_new_version_and_a_rollback_run_at_once(client):
    module = stored(pattern="^/")
    store_upload("tag", tagging("v2"))
    assert client.get("/x")["X-Hook"] == "v2"
    activate(module.versions.get(number=1))
    assert client.get("/x")["X-Hook"] == "v1"


def test_a_module_without_an_active_version_is_not_found(client, failures):
    module = stored(pattern="^/")
    module.active_version.delete()
    response = client.get("/x")
    assert response.status_code == 503
    assert isinstance(failures[0]["error"], ModuleNotFound)


def test_settings_and_stored_bindings_run_together_by_order(client):
    stored("second", "stored", pattern="^/", order=5)
    g = Guest()
    first = g.build(on_request=[g.do("response_add_header", "X-Hook", "settings")])
    with override_hooks({"first": first}, [{"module": "first", "pattern": "^/", "order": 10}]):
        assert client.get("/x")["X-Hook"] == "stored, settings"  # order 5 before order 10
        assert [b.module for b in snapshot.current().routes.bindings] == ["second", "first"]


def test_a_settings_binding_may_run_a_stored_module(client):
    stored("tag", "stored")
    with override_hooks({}, [{"module": "tag", "pattern": "^/"}]):
        assert client.get("/x")["X-Hook"] == "stored"


def test_a_name_in_settings_and_stored_runs_the_settings_module(client, caplog):
    stored("tag", "stored", pattern="^/")
    with override_hooks({"tag": tagging("settings")}), caplog.at_level(logging.ERROR, "wasmhooks"):
        assert client.get("/x")["X-Hook"] == "settings"
    assert "defined in WASMHOOKS_MODULES and in the database" in caplog.text


def test_no_query_between_looks_and_one_query_per_look(client, clock):
    stored(pattern="^/")
    client.get("/x")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            assert client.get("/x")["X-Hook"] == "v1"
    assert [q["sql"] for q in queries.captured_queries if "wasmhooks" in q["sql"]] == []
    clock.now += 1.5
    with CaptureQueriesContext(connection) as queries:
        client.get("/x")
    wasmhooks_queries = [q["sql"] for q in queries.captured_queries if "wasmhooks" in q["sql"]]
    assert len(wasmhooks_queries) == 1
    assert "wasmhooks_hooksrevision" in wasmhooks_queries[0]


def test_another_process_change_is_seen_after_the_interval(client, clock):
    module = stored(pattern="^/")
    assert client.get("/x")["X-Hook"] == "v1"
    first = snapshot.current()
    # As another process would: a new row and a revision bump, without this process's signals.
    HookBinding.objects.bulk_create([HookBinding(module=module, pattern="^/", enabled=False)])
    HookBinding.objects.filter(enabled=True).update(pattern="^/nowhere/")
    bump_elsewhere()
    clock.now += 0.9
    assert client.get("/x")["X-Hook"] == "v1"
    assert snapshot.current() is first
    clock.now += 0.2
    assert "X-Hook" not in client.get("/x")
    assert snapshot.current() is not first


def test_an_unchanged_revision_keeps_the_snapshot(client, clock):
    stored(pattern="^/")
    client.get("/x")
    first = snapshot.current()
    clock.now += 5
    assert snapshot.current() is first


@override_settings(WASMHOOKS_RELOAD_INTERVAL=10)
def test_the_interval_follows_the_setting(clock):
    first = snapshot.current()
    HooksRevision.objects.create(pk=snapshot.REVISION_PK, number=7)  # another process's first change
    clock.now += 9
    assert snapshot.current() is first
    clock.now += 2
    assert snapshot.current().revision == snapshot.Revision(7, "")


@pytest.mark.parametrize("interval", [None, -1, "2", True])
def test_an_invalid_interval_falls_back_to_the_default(interval):
    with override_settings(WASMHOOKS_RELOAD_INTERVAL=interval):
        assert snapshot.reload_interval() == 1.0


def test_unchanged_versions_are_not_loaded_again(client):
    stored("tag", "v1", pattern="^/")
    loaded = snapshot.current().module("tag")
    stored("other", "x", pattern="^/other/")
    after = snapshot.current()
    assert after.module("tag") is loaded
    assert after.module("other").name == "other"


def test_the_revision_counts_changes_and_draws_a_new_token_each_time():
    assert snapshot.read_revision() == snapshot.NO_REVISION
    module = stored()
    after_upload = snapshot.read_revision()
    assert after_upload.number >= 3  # the module, its version, the activation
    HookBinding.objects.create(module=module, pattern="^/")
    after_binding = snapshot.read_revision()
    assert after_binding.number == after_upload.number + 1
    assert len({after_upload.token, after_binding.token, ""}) == 3
    HooksRevision.objects.all().delete()
    HookBinding.objects.get().save()
    assert snapshot.read_revision().number == 1


def test_a_rolled_back_change_is_not_mistaken_for_a_later_one(client, clock):
    module = stored()
    before = snapshot.read_revision()
    with pytest.raises(RuntimeError), transaction.atomic():
        HookBinding.objects.create(module=module, pattern="^/")
        assert client.get("/x")["X-Hook"] == "v1"  # this connection sees its own change
        raise RuntimeError("rolled back")
    assert snapshot.read_revision() == before
    # Another process makes a change that reaches the same number as the rolled-back one.
    HooksRevision.objects.filter(pk=snapshot.REVISION_PK).update(number=F("number") + 1, token="other")
    assert snapshot.current().revision.number == snapshot.read_revision().number
    clock.now += 1.5
    assert "X-Hook" not in client.get("/x")  # the tokens differ: the phantom binding is gone


def test_a_database_error_keeps_the_last_snapshot(client, monkeypatch, caplog):
    stored(pattern="^/")
    assert client.get("/x")["X-Hook"] == "v1"

    def unreachable() -> int:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(snapshot, "read_revision", unreachable)
    snapshot.mark_stale()
    with caplog.at_level(logging.ERROR, "wasmhooks"):
        assert client.get("/x")["X-Hook"] == "v1"
    assert "cannot read hooks from the database: connection refused" in caplog.text


def test_a_database_error_at_start_serves_the_settings_bindings(client, monkeypatch):
    def unreachable() -> int:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(snapshot, "read_revision", unreachable)
    with override_hooks({"s": tagging("settings")}, [{"module": "s", "pattern": "^/"}]):
        assert client.get("/x")["X-Hook"] == "settings"
        assert snapshot.current().revision is None


def test_an_invalid_settings_binding_still_fails_closed():
    with override_settings(WASMHOOKS_BINDINGS=[{"module": "x"}]), pytest.raises(BindingError):
        snapshot.current()
    assert snapshot._snapshot is None


def test_a_stored_binding_made_invalid_behind_our_back_is_skipped(client, caplog):
    module = stored(pattern="^/")
    HookBinding.objects.bulk_create([HookBinding(module=module, pattern="(unclosed")])
    snapshot.mark_stale()
    with caplog.at_level(logging.ERROR, "wasmhooks"):
        assert client.get("/x")["X-Hook"] == "v1"
    assert "is invalid and does not run" in caplog.text
    assert len(snapshot.current().routes.bindings) == 1


def test_a_stored_version_that_does_not_load_fails_its_requests(client, failures, caplog):
    module = WasmModule.objects.create(name="broken")
    version = WasmModuleVersion.objects.create(
        module=module, number=1, binary=b"\0asm junk", sha256="0" * 64, size=9, abi="v1"
    )
    module.active_version = version
    module.save()
    HookBinding.objects.create(module=module, pattern="^/")
    with caplog.at_level(logging.ERROR, "wasmhooks"):
        assert client.get("/x").status_code == 503
    assert isinstance(failures[0]["error"], ModuleInvalid)
    assert "stored module 'broken'" in caplog.text


def look(seen: list[snapshot.HooksSnapshot]) -> None:
    try:
        seen.append(snapshot.current())
    finally:
        connections.close_all()  # this thread's own connection, as Django does after a request


def test_threads_serve_the_old_snapshot_while_one_looks():
    first = snapshot.current()
    snapshot.mark_stale()
    seen: list[snapshot.HooksSnapshot] = []
    with snapshot._lock:
        thread = threading.Thread(target=look, args=(seen,))
        thread.start()
        thread.join(timeout=5)
    assert seen == [first]
    assert snapshot.current() is not first


def test_the_first_threads_wait_for_the_first_snapshot():
    seen: list[snapshot.HooksSnapshot] = []
    with snapshot._lock:
        threads = [threading.Thread(target=look, args=(seen,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        assert seen == []
    for thread in threads:
        thread.join(timeout=5)
    assert len(seen) == 3
    assert all(s is seen[0] for s in seen)


def test_a_request_finishes_on_the_snapshot_it_started_with(rf):
    versions = []
    for n in (1, 2):
        g = Guest()
        versions.append(
            g.build(
                on_request=[g.do("response_set_header", "X-Before", str(n))],
                on_response=[g.do("response_set_header", "X-After", str(n))],
            )
        )
    module = store_upload("flip", versions[0]).module
    HookBinding.objects.create(module=module, pattern="^/")
    hooks = snapshot.current()
    request = rf.get("/x")
    pipeline = HookPipeline(request, hooks.routes.match("/x", "GET"), hooks)
    assert pipeline.before_view() is None
    store_upload("flip", versions[1])  # swapped in between the phases
    assert snapshot.current().module("flip").compiled.sha256 != hooks.module("flip").compiled.sha256
    response = pipeline.after_view(HttpResponse())
    assert (response["X-Before"], response["X-After"]) == ("1", "1")


def test_an_unknown_module_is_not_found():
    with pytest.raises(ModuleNotFound, match="no module named 'nope'"):
        snapshot.current().module("nope")


def test_wasmhooks_call_runs_a_stored_module():
    g = Guest()
    store_upload("greeter", g.build(greet=[g.do("output", "hello from the database")]))
    assert wasmhooks.call("greeter", "greet") == b"hello from the database"


def test_rows_that_change_while_read_are_read_again(client, monkeypatch):
    module = stored(pattern="^/")
    client.get("/x")
    reads = []
    real_read = snapshot._read_rows

    def read_then_change():
        rows = real_read()
        if not reads:  # another process commits between the rows and the revision
            HookBinding.objects.filter(module=module).update(pattern="^/moved/")
            bump_elsewhere()
        reads.append(rows)
        return rows

    monkeypatch.setattr(snapshot, "_read_rows", read_then_change)
    snapshot.mark_stale()
    assert "X-Hook" not in client.get("/x")
    assert client.get("/moved/")["X-Hook"] == "v1"
    assert len(reads) == 2


def test_a_version_deleted_while_read_is_read_again(client, monkeypatch, failures):
    stored(pattern="^/")
    client.get("/x")
    store_upload("tag", tagging("v2"))
    reset_state()  # a process that has not compiled v2: it must fetch the binary
    real_fetch = snapshot._fetch_binaries
    fetched: list[set[int]] = []

    def fetch_after_a_delete(ids):
        if not fetched:  # another process deletes the version between the two queries
            WasmModuleVersion.objects.filter(number=2).delete()
        fetched.append(set(ids))
        return real_fetch(ids)

    monkeypatch.setattr(snapshot, "_fetch_binaries", fetch_after_a_delete)
    response = client.get("/x")
    assert response.status_code == 503  # v2 is gone and no version is active: fail closed
    assert fetched[0] and fetched[1:] == [set()]
    assert "tag" not in snapshot.current().modules
    assert isinstance(failures[0]["error"], ModuleNotFound)


def test_hooks_that_keep_changing_leave_the_process_looking(client, monkeypatch, caplog):
    stored(pattern="^/")
    assert client.get("/x")["X-Hook"] == "v1"
    first = snapshot.current()
    real_read = snapshot._read_rows

    def read_then_change():
        rows = real_read()
        bump_elsewhere()
        return rows

    monkeypatch.setattr(snapshot, "_read_rows", read_then_change)
    snapshot.mark_stale()
    with caplog.at_level(logging.WARNING, "wasmhooks"):
        assert client.get("/x")["X-Hook"] == "v1"
    assert snapshot._snapshot is first
    assert snapshot._stale
    assert "changed during 3 reads in a row" in caplog.text


def test_a_decorated_view_and_wasmhooks_call_run_the_snapshot_the_request_started_with(rf):
    store_upload("tag", tagging("v1"))
    request = rf.get("/x")
    hooks = snapshot.current()
    snapshot.keep_on_request(request, hooks)
    store_upload("tag", tagging("v2"))
    assert snapshot.current().module("tag") is not hooks.module("tag")
    assert snapshot.resolve("tag", request) is hooks.module("tag")
    assert HookPipeline(request, []).hooks is hooks
    assert snapshot.resolve("tag") is snapshot.current().module("tag")
    assert snapshot.of_request(rf.get("/y")) is None


def test_the_middleware_keeps_its_snapshot_on_the_request(client):
    stored(pattern="^/")
    response = client.get("/x")
    assert snapshot.of_request(response.wsgi_request) is snapshot.current()


def test_a_commit_makes_the_process_look_again(django_capture_on_commit_callbacks):
    module = stored()
    snapshot.current()
    with django_capture_on_commit_callbacks(execute=True):
        HookBinding.objects.create(module=module, pattern="^/")
        snapshot.current()  # another thread looks before the commit, with the old rows
        assert not snapshot._stale
    assert snapshot._stale


def test_a_restarted_process_loads_stored_versions_from_the_hosts_artifacts(client, monkeypatch, tmp_path):
    real_fetch = snapshot._fetch_binaries
    fetched: list[set[int]] = []

    def fetch(ids):
        fetched.append(set(ids))
        return real_fetch(ids)

    monkeypatch.setattr(snapshot, "_fetch_binaries", fetch)
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path)):
        stored(pattern="^/")  # compiled on upload, its artifact written to the folder
        reset_state()  # a new process: nothing compiled in memory
        assert client.get("/x")["X-Hook"] == "v1"
        assert fetched == [set()]
        reset_state()
        for path in tmp_path.glob("*.cwasm"):
            path.unlink()  # the artifact is gone: the binary is fetched and compiled
        assert client.get("/x")["X-Hook"] == "v1"
        assert fetched[1] == {WasmModuleVersion.objects.get().pk}


def test_a_stored_version_whose_artifact_breaks_the_abi_fails_like_its_binary(
    client, monkeypatch, tmp_path, caplog
):
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path)):
        stored(pattern="^/")
        reset_state()

        def refuse(compiled):
            raise ModuleInvalid("not a wasmhooks module: refused for the test")

        monkeypatch.setattr(snapshot.registry.abi, "inspect_module", refuse)
        assert client.get("/x").status_code == 503
    assert "stored module 'tag' (version id" in caplog.text and "refused for the test" in caplog.text
