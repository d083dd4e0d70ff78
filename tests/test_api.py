"""The REST API (`wasmhooks.api`) through DRF's test client, as users with chosen permissions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.test import override_settings
from django.test.client import BOUNDARY, encode_multipart
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.wat import BUF, INFINITE_LOOP, READ, Guest, hook
from wasmhooks.api.exceptions import ModuleTooLarge
from wasmhooks.api.serializers import WasmModuleUploadSerializer, WasmModuleVersionUploadSerializer
from wasmhooks.models import HookBinding, WasmModule, WasmModuleVersion

API = "/api/hooks"
HEADERS_SHAPE = 'Give headers as {"Name": "value"} or a list of ["Name", "value"] or "Name: value".'
EVERY_PERMISSION = [
    f"{verb}_{model}"
    for model in ("wasmmodule", "wasmmoduleversion", "hookbinding")
    for verb in ("add", "change", "delete", "view")
] + ["try_wasmmodule"]


def marker(value: str) -> bytes:
    """A guest whose `on_request` sets `X-Version: value` on the response and lets the request go on."""
    g = Guest()
    return g.build(on_request=[g.do("response_set_header", "X-Version", value), 0])


def wasm_file(wasm: bytes, name: str = "hook.wasm") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, wasm, content_type="application/wasm")


def make_user(*codenames: str, username: str = "alice", **fields: Any) -> User:
    """A user holding exactly the `wasmhooks` permissions named."""
    user = User.objects.create_user(username, password="pw", **fields)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="wasmhooks", codename__in=codenames)
    )
    return User.objects.get(pk=user.pk)  # a fresh instance: no permission cache


def client_for(*codenames: str, **fields: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user(*codenames, **fields))
    return client


@pytest.fixture
def api() -> APIClient:
    """A client of a user with every wasmhooks permission."""
    return client_for(*EVERY_PERMISSION)


def upload(api: APIClient, name: str, wasm: bytes, **fields: Any) -> Any:
    return api.post(f"{API}/modules/", {"name": name, "file": wasm_file(wasm), **fields}, format="multipart")


def upload_version(api: APIClient, name: str, wasm: bytes, **fields: Any) -> Any:
    return api.post(
        f"{API}/modules/{name}/versions/", {"file": wasm_file(wasm), **fields}, format="multipart"
    )


def bind(api: APIClient, **fields: Any) -> Any:
    return api.post(f"{API}/bindings/", fields, format="json")


def try_it(api: APIClient, name: str, **request: Any) -> Any:
    return api.post(f"{API}/modules/{name}/try/", request, format="json")


# Modules


def test_upload_creates_a_module_with_its_first_version_in_force(api):
    wasm = marker("one")
    response = upload(api, "tagger", wasm, description="Tags responses.")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["name"] == "tagger"
    assert body["description"] == "Tags responses."
    assert body["url"] == "http://testserver/api/hooks/modules/tagger/"
    assert response["Location"] == body["url"]
    assert body["versions_url"] == "http://testserver/api/hooks/modules/tagger/versions/"
    assert body["try_url"] == "http://testserver/api/hooks/modules/tagger/try/"
    assert body["version_count"] == 1
    active = body["active_version"]
    assert active["number"] == 1
    assert active["url"] == "http://testserver/api/hooks/modules/tagger/versions/1/"
    assert active["size"] == len(wasm)
    assert active["abi"] == "v1"
    assert active["entry_points"] == ["on_request"]
    assert len(active["sha256"]) == 64
    assert {"created_at", "updated_at"} <= set(body)
    module = WasmModule.objects.get(name="tagger")
    assert module.active_version is not None
    assert bytes(module.active_version.binary) == wasm
    assert module.active_version.uploaded_by is not None
    assert module.active_version.uploaded_by.username == "alice"


def test_list_and_retrieve_modules(api):
    upload(api, "beta", marker("b"))
    upload(api, "alpha", marker("a"))
    upload_version(api, "alpha", marker("a2"))
    listed = api.get(f"{API}/modules/")
    assert listed.status_code == 200
    assert [(m["name"], m["version_count"], m["active_version"]["number"]) for m in listed.json()] == [
        ("alpha", 2, 2),
        ("beta", 1, 1),
    ]
    one = api.get(f"{API}/modules/alpha/")
    assert one.status_code == 200
    assert one.json() == listed.json()[0]
    assert api.get(f"{API}/modules/gamma/").status_code == 404


def test_a_module_without_an_active_version_shows_null(api):
    upload(api, "idle", marker("x"))
    module = WasmModule.objects.get(name="idle")
    module.active_version = None
    module.save()
    assert api.get(f"{API}/modules/idle/").json()["active_version"] is None


def test_delete_removes_the_module_its_versions_and_its_bindings(api):
    upload(api, "doomed", marker("x"))
    upload_version(api, "doomed", marker("y"))
    bind(api, module="doomed", pattern="^/")
    upload(api, "kept", marker("k"))
    response = api.delete(f"{API}/modules/doomed/")
    assert response.status_code == 204
    assert list(WasmModule.objects.values_list("name", flat=True)) == ["kept"]
    assert not WasmModuleVersion.objects.filter(module__name="doomed").exists()
    assert not HookBinding.objects.exists()
    assert api.delete(f"{API}/modules/doomed/").status_code == 404


@pytest.mark.parametrize(
    ("codenames", "with_binding", "missing"),
    [
        (
            ("delete_wasmmodule",),
            False,
            "its module versions, which needs the wasmhooks.delete_wasmmoduleversion permission.",
        ),
        (
            ("delete_wasmmodule",),
            True,
            "its hook bindings and module versions, which needs the wasmhooks.delete_hookbinding and "
            "wasmhooks.delete_wasmmoduleversion permissions.",
        ),
        (
            ("delete_wasmmodule", "delete_wasmmoduleversion"),
            True,
            "its hook bindings, which needs the wasmhooks.delete_hookbinding permission.",
        ),
        (
            ("delete_wasmmodule", "delete_hookbinding"),
            True,
            "its module versions, which needs the wasmhooks.delete_wasmmoduleversion permission.",
        ),
    ],
)
def test_deleting_a_module_needs_delete_permission_on_its_versions_and_bindings(
    api, codenames, with_binding, missing
):
    upload(api, "doomed", marker("x"))
    if with_binding:
        bind(api, module="doomed", pattern="^/hooked/")
    deleter = client_for(*codenames, username="deleter")
    response = deleter.delete(f"{API}/modules/doomed/")
    assert response.status_code == 403
    assert response.json() == {"detail": f"Deleting 'doomed' also deletes {missing}"}
    assert WasmModuleVersion.objects.filter(module__name="doomed").count() == 1
    assert HookBinding.objects.count() == int(with_binding)


def test_deleting_a_module_takes_only_the_permissions_its_rows_need(api):
    WasmModule.objects.create(name="empty")
    upload(api, "unbound", marker("x"))
    upload(api, "bound", marker("y"))
    bind(api, module="bound", pattern="^/hooked/")
    assert client_for("delete_wasmmodule", username="a").delete(f"{API}/modules/empty/").status_code == 204
    versions_too = client_for("delete_wasmmodule", "delete_wasmmoduleversion", username="b")
    assert versions_too.delete(f"{API}/modules/unbound/").status_code == 204
    everything = client_for(
        "delete_wasmmodule", "delete_wasmmoduleversion", "delete_hookbinding", username="c"
    )
    assert everything.delete(f"{API}/modules/bound/").status_code == 204
    assert not WasmModule.objects.exists()
    assert not WasmModuleVersion.objects.exists()
    assert not HookBinding.objects.exists()


def test_the_cascade_check_belongs_to_the_model_permissions(api):
    upload(api, "bound", marker("y"))
    bind(api, module="bound", pattern="^/hooked/")
    staff = client_for(username="staff", is_staff=True)
    with override_settings(WASMHOOKS_API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"]):
        assert staff.delete(f"{API}/modules/bound/").status_code == 204
    assert not HookBinding.objects.exists()


def test_a_module_name_already_taken_is_refused(api):
    upload(api, "taken", marker("x"))
    response = upload(api, "taken", marker("y"))
    assert response.status_code == 400
    assert response.json() == {
        "name": ["A module named 'taken' already exists: upload new versions to its versions endpoint."]
    }
    assert WasmModuleVersion.objects.count() == 1


def _guest_that_fails_to_start() -> bytes:
    return Guest().build(memory_pages=1000, on_request=[0])


@pytest.mark.parametrize(
    ("wasm", "message"),
    [
        (b"", "The file is empty."),
        (b"hello, world", "This is not a WebAssembly binary (it does not start with \\0asm)."),
        (b"\0asm\x01\0\0\0garbage", "The module does not compile: "),
        (
            hook(on_request=[0]).replace(b"wasmhooks_abi_v1", b"wasmhooks_abi_v0"),
            "The module is not a wasmhooks",
        ),
        (None, "The module fails to start under the default limits (memory): "),
    ],
    ids=["empty", "not_wasm", "invalid", "abi", "instantiate"],
)
def test_a_bad_module_is_a_400_on_file_and_nothing_is_stored(api, wasm, message):
    response = upload(api, "bad", _guest_that_fails_to_start() if wasm is None else wasm)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["file"]
    assert len(errors["file"]) == 1
    assert errors["file"][0].startswith(message)
    assert not WasmModule.objects.exists()
    assert not WasmModuleVersion.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no spaces", "'no spaces' is not a valid module name: use 1 to 64 letters, digits, '-' and '_'."),
        ("x" * 65, f"'{'x' * 65}' is not a valid module name: use 1 to 64 letters, digits, '-' and '_'."),
        ("from-settings", "A module named 'from-settings' is already defined in WASMHOOKS_MODULES."),
    ],
)
def test_a_bad_name_is_a_400_on_name(api, name, message):
    with override_settings(WASMHOOKS_MODULES={"from-settings": "/nowhere.wasm"}):
        response = upload(api, name, marker("x"))
    assert response.status_code == 400
    assert response.json() == {"name": [message]}
    assert not WasmModule.objects.exists()


def test_missing_fields_are_400s_naming_them(api):
    response = api.post(f"{API}/modules/", {"description": "no name, no file"}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"name": ["This field is required."], "file": ["No file was submitted."]}
    response = api.post(f"{API}/modules/", {"name": "x", "file": "not a file"}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "file": ["The submitted data was not a file. Check the encoding type on the form."]
    }
    assert not WasmModule.objects.exists()


def test_uploads_are_multipart_only(api):
    response = api.post(f"{API}/modules/", {"name": "x"}, format="json")
    assert response.status_code == 415


@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_a_module_over_the_size_limit_is_a_413(api):
    wasm = marker("too big")
    assert len(wasm) > 100
    response = upload(api, "big", wasm)
    assert response.status_code == 413
    assert response.json() == {
        "file": [f"The module is {len(wasm)} bytes, over the limit of 100 (WASMHOOKS_MAX_MODULE_BYTES)."]
    }
    assert not WasmModule.objects.exists()


class Unreadable(SimpleUploadedFile):
    """An upload that fails the test if anything reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the upload was read")

    def chunks(self, *args, **kwargs):
        raise AssertionError("the upload was read")


@pytest.mark.parametrize(
    ("serializer", "fields"),
    [(WasmModuleUploadSerializer, {"name": "big"}), (WasmModuleVersionUploadSerializer, {})],
)
@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_the_file_is_refused_from_its_declared_size_before_it_is_read(serializer, fields):
    checked = serializer(data={**fields, "file": Unreadable("big.wasm", b"\0asm" + b"\0" * 97)})
    with pytest.raises(ModuleTooLarge) as raised:
        checked.is_valid()
    assert raised.value.status_code == 413
    assert raised.value.detail == {
        "file": ["The module is 101 bytes, over the limit of 100 (WASMHOOKS_MAX_MODULE_BYTES)."]
    }


@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_a_file_over_the_size_limit_is_a_413_before_it_is_read(api, monkeypatch):
    WasmModule.objects.create(name="small")
    wasm = marker("too big")
    bodies = {
        f"{API}/modules/": encode_multipart(BOUNDARY, {"name": "big", "file": wasm_file(wasm)}),
        f"{API}/modules/small/versions/": encode_multipart(BOUNDARY, {"file": wasm_file(wasm)}),
    }
    # The upload reaches the serializer as an InMemoryUploadedFile, which must not be read from now on.
    monkeypatch.setattr(InMemoryUploadedFile, "read", Unreadable.read)
    monkeypatch.setattr(InMemoryUploadedFile, "chunks", Unreadable.chunks)
    for url, body in bodies.items():
        # Encoded already: the test client would read the file to encode it.
        response = api.post(url, body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
        assert response.status_code == 413, url
        assert response.json() == {
            "file": [f"The module is {len(wasm)} bytes, over the limit of 100 (WASMHOOKS_MAX_MODULE_BYTES)."]
        }
    assert list(WasmModule.objects.values_list("name", flat=True)) == ["small"]
    assert not WasmModuleVersion.objects.exists()


def test_a_version_over_the_size_limit_is_a_413(api):
    upload(api, "small", marker("x"))
    with override_settings(WASMHOOKS_MAX_MODULE_BYTES=100):
        response = upload_version(api, "small", marker("too big"))
    assert response.status_code == 413
    assert list(response.json()) == ["file"]
    assert WasmModuleVersion.objects.count() == 1


# Versions


def test_a_new_version_is_stored_and_put_in_force(api):
    upload(api, "mod", marker("one"))
    wasm = marker("two")
    response = upload_version(api, "mod", wasm)
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["number"] == 2
    assert body["active"] is True
    assert body["url"] == "http://testserver/api/hooks/modules/mod/versions/2/"
    assert response["Location"] == body["url"]
    assert body["activate_url"] == "http://testserver/api/hooks/modules/mod/versions/2/activate/"
    assert body["size"] == len(wasm)
    assert body["uploaded_by"] == "alice"
    assert body["entry_points"] == ["on_request"]
    assert "on_request" in body["exports"]
    assert "wasmhooks.response_set_header" in body["imports"]
    assert WasmModule.objects.get(name="mod").active_version.number == 2


def test_a_version_uploaded_with_activate_false_is_stored_but_not_in_force(api):
    upload(api, "mod", marker("one"))
    response = upload_version(api, "mod", marker("two"), activate="false")
    assert response.status_code == 201
    assert response.json()["active"] is False
    assert WasmModule.objects.get(name="mod").active_version.number == 1


def test_identical_bytes_give_back_the_existing_version_with_200(api):
    upload(api, "mod", marker("one"))
    upload_version(api, "mod", marker("two"))
    response = upload_version(api, "mod", marker("one"))
    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert response.json()["active"] is True  # re-uploading an older version activates it again
    assert WasmModuleVersion.objects.count() == 2


def test_versions_list_newest_first_and_retrieve(api):
    upload(api, "mod", marker("one"))
    upload_version(api, "mod", marker("two"), activate="false")
    listed = api.get(f"{API}/modules/mod/versions/")
    assert listed.status_code == 200
    assert [(v["number"], v["active"], v["uploaded_by"]) for v in listed.json()] == [
        (2, False, "alice"),
        (1, True, "alice"),
    ]
    one = api.get(f"{API}/modules/mod/versions/1/")
    assert one.status_code == 200
    assert one.json() == listed.json()[1]
    assert api.get(f"{API}/modules/mod/versions/3/").status_code == 404


def test_a_version_whose_uploader_is_gone_shows_null(api):
    upload(api, "mod", marker("one"))
    User.objects.filter(username="alice").delete()
    viewer = client_for("view_wasmmodule", username="bob")
    assert viewer.get(f"{API}/modules/mod/versions/1/").json()["uploaded_by"] is None


def test_versions_of_an_unknown_module_are_404(api):
    assert api.get(f"{API}/modules/ghost/versions/").status_code == 404
    assert upload_version(api, "ghost", marker("x")).status_code == 404
    assert api.post(f"{API}/modules/ghost/versions/1/activate/").status_code == 404
    assert not WasmModule.objects.exists()


def test_a_version_with_a_bad_file_is_a_400(api):
    upload(api, "mod", marker("one"))
    response = upload_version(api, "mod", b"nope")
    assert response.status_code == 400
    assert response.json() == {"file": ["This is not a WebAssembly binary (it does not start with \\0asm)."]}
    response = api.post(f"{API}/modules/mod/versions/", {}, format="multipart")
    assert response.json() == {"file": ["No file was submitted."]}
    assert WasmModuleVersion.objects.count() == 1


def test_versions_are_immutable(api):
    upload(api, "mod", marker("one"))
    url = f"{API}/modules/mod/versions/1/"
    assert api.put(url, {}, format="multipart").status_code == 405
    assert api.patch(url, {}, format="multipart").status_code == 405
    assert api.delete(url).status_code == 405


def test_activate_an_older_version_rolls_back_and_the_middleware_follows_at_once(api):
    upload(api, "mod", marker("one"))
    upload_version(api, "mod", marker("two"))
    assert bind(api, module="mod", pattern="^/hooked/").status_code == 201
    site = APIClient()
    assert site.get("/hooked/")["X-Version"] == "two"
    response = api.post(f"{API}/modules/mod/versions/1/activate/")
    assert response.status_code == 200
    assert response.json()["name"] == "mod"
    assert response.json()["active_version"]["number"] == 1
    assert site.get("/hooked/")["X-Version"] == "one"
    again = api.post(f"{API}/modules/mod/versions/1/activate/")
    assert again.status_code == 200
    assert again.json()["active_version"]["number"] == 1
    assert api.post(f"{API}/modules/mod/versions/2/activate/").json()["active_version"]["number"] == 2
    assert site.get("/hooked/")["X-Version"] == "two"


# Bindings


def test_binding_crud_and_the_middleware_sees_each_change_at_once(api):
    upload(api, "mod", marker("one"))
    site = APIClient()
    assert "X-Version" not in site.get("/hooked/")
    created = bind(api, module="mod", pattern="^/hooked/", methods="get, post,GET", config="{}", note="n")
    assert created.status_code == 201, created.data
    body = created.json()
    binding = HookBinding.objects.get()
    assert body == {
        "id": binding.pk,
        "url": f"http://testserver/api/hooks/bindings/{binding.pk}/",
        "module": "mod",
        "pattern": "^/hooked/",
        "methods": "GET, POST",
        "order": 0,
        "enabled": True,
        "timeout_ms": None,
        "memory_mb": None,
        "fuel": None,
        "on_error": "block",
        "isolate": False,
        "config": "{}",
        "note": "n",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert site.get("/hooked/")["X-Version"] == "one"
    assert "X-Version" not in site.put("/hooked/")

    assert api.get(body["url"]).json() == body
    patched = api.patch(body["url"], {"pattern": "^/elsewhere/", "timeout_ms": 20}, format="json")
    assert patched.status_code == 200
    assert patched.json()["pattern"] == "^/elsewhere/"
    assert patched.json()["timeout_ms"] == 20.0
    assert patched.json()["methods"] == "GET, POST"
    assert "X-Version" not in site.get("/hooked/")
    assert site.get("/elsewhere/")["X-Version"] == "one"

    replaced = api.put(
        body["url"], {"module": "mod", "pattern": "^/hooked/", "enabled": False}, format="json"
    )
    assert replaced.status_code == 200
    # Fields left out of a PUT keep their values.
    assert (replaced.json()["methods"], replaced.json()["timeout_ms"]) == ("GET, POST", 20.0)
    assert "X-Version" not in site.get("/hooked/")
    api.patch(body["url"], {"enabled": True}, format="json")
    assert site.get("/hooked/")["X-Version"] == "one"

    assert api.delete(body["url"]).status_code == 204
    assert not HookBinding.objects.exists()
    assert "X-Version" not in site.get("/hooked/")
    assert api.get(body["url"]).status_code == 404


def test_bindings_list_in_order_and_filter_by_module(api):
    upload(api, "one", marker("1"))
    upload(api, "two", marker("2"))
    bind(api, module="two", pattern="^/b", order=5)
    bind(api, module="one", pattern="^/a", order=1)
    bind(api, module="two", pattern="^/c", order=-1)
    everything = api.get(f"{API}/bindings/")
    assert [(b["module"], b["pattern"]) for b in everything.json()] == [
        ("two", "^/c"),
        ("one", "^/a"),
        ("two", "^/b"),
    ]
    only_two = api.get(f"{API}/bindings/", {"module": "two"})
    assert [b["pattern"] for b in only_two.json()] == ["^/c", "^/b"]
    assert api.get(f"{API}/bindings/", {"module": "none"}).json() == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"pattern": "(unclosed"},
            {
                "pattern": [
                    "'pattern' '(unclosed' does not compile: missing ), unterminated subpattern at position 0"
                ]
            },
        ),
        (
            {"methods": "GET, G3T"},
            {"methods": ["'methods' must be a list of HTTP methods, not ['GET', 'G3T']"]},
        ),
        ({"timeout_ms": 0}, {"timeout_ms": ["'timeout_ms' must be a positive number, not 0.0"]}),
        ({"timeout_ms": "soon"}, {"timeout_ms": ["A valid number is required."]}),
        ({"memory_mb": 0.01}, {"memory_mb": ["'memory_mb' must allow at least one 64 KiB page, not 0.01"]}),
        ({"fuel": 0}, {"fuel": ["'fuel' must be a positive integer, not 0"]}),
        ({"on_error": "explode"}, {"on_error": ['"explode" is not a valid choice.']}),
        ({"module": "ghost"}, {"module": ["Object with name=ghost does not exist."]}),
        ({"pattern": ""}, {"pattern": ["This field may not be blank."]}),
    ],
)
def test_an_invalid_binding_is_a_400_keyed_by_field(api, fields, errors):
    upload(api, "mod", marker("one"))
    response = bind(api, **{"module": "mod", "pattern": "^/", **fields})
    assert response.status_code == 400
    assert response.json() == errors
    assert not HookBinding.objects.exists()


def test_an_invalid_change_to_a_binding_leaves_it_as_it_was(api):
    upload(api, "mod", marker("one"))
    url = bind(api, module="mod", pattern="^/hooked/", methods="GET").json()["url"]
    response = api.patch(url, {"methods": "GET, NOT A METHOD"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["methods"]
    binding = HookBinding.objects.get()
    assert (binding.pattern, binding.methods) == ("^/hooked/", "GET")
    assert APIClient().get("/hooked/")["X-Version"] == "one"


def test_a_binding_needs_a_module_and_a_pattern(api):
    response = bind(api)
    assert response.status_code == 400
    assert response.json() == {"module": ["This field is required."], "pattern": ["This field is required."]}


# Trying a module


def test_try_runs_the_active_version_on_the_request_described(api):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.copy("X-Method", "request_method"),
            g.copy("X-Path", "request_path"),
            g.copy("X-Query", "request_query"),
            g.copy("X-In", "request_header", "X-In"),
            g.copy("X-Body", "request_body"),
            g.copy("X-Config", "config"),
            g.do("request_set_header", "X-Added", "by hook"),
            g.do("context_set", "seen", "yes"),
            g.do("log", 1, "hello from the guest"),
            0,
        ]
    )
    upload(api, "echo", wasm)
    response = try_it(
        api,
        "echo",
        method="post",
        path="/some/where?x=1",
        headers={"X-In": "in value"},
        body="the body",
        config="the config",
    )
    assert response.status_code == 200, response.data
    result = response.json()
    headers = dict(result["headers"])
    assert headers["X-Method"] == "POST"
    assert headers["X-Path"] == "/some/where"
    assert headers["X-Query"] == "x=1"
    assert headers["X-In"] == "in value"
    assert headers["X-Body"] == "the body"
    assert headers["X-Config"] == "the config"
    assert result["status"] == 200
    assert result["body"] == ""
    assert "body_base64" not in result
    assert result["answered_by_hook"] is False
    assert result["version"] == 1
    assert result["failures"] == []
    assert result["logs"] == [{"level": "info", "message": "hello from the guest"}]
    assert result["request_headers"]["X-Added"] == "by hook"
    assert result["context"] == {"seen": "yes"}
    assert result["elapsed_ms"] >= 0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-In": "a"},
        [["X-In", "a"]],
        ["X-In: a"],
        ["X-In:a  "],
    ],
    ids=["dict", "pairs", "lines", "line-trimmed"],
)
def test_try_takes_headers_in_each_form(api, headers):
    g = Guest()
    upload(api, "echo", g.build(on_request=[g.copy("X-In", "request_header", "X-In"), 0]))
    result = try_it(api, "echo", headers=headers).json()
    assert dict(result["headers"])["X-In"] == "a"


def test_try_with_a_binary_body_and_a_guest_that_answers(api):
    g = Guest()
    wasm = g.build(
        on_request=[
            g.do("response_set_status", 418),
            g.do("response_set_body", BUF, g.op("request_body", READ)),
            1,
        ]
    )
    upload(api, "mirror", wasm)
    result = try_it(api, "mirror", body_base64=base64.b64encode(b"\xff\x00").decode()).json()
    assert result["status"] == 418
    assert result["answered_by_hook"] is True
    assert result["body_base64"] == base64.b64encode(b"\xff\x00").decode()
    assert "body" not in result


def test_a_failing_guest_is_still_a_200_that_reports_the_failure(api):
    upload(api, "broken", hook(on_request=["unreachable"]))
    response = try_it(api, "broken")
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == 503
    assert result["answered_by_hook"] is False
    assert [(f["phase"], f["kind"]) for f in result["failures"]] == [("on_request", "trap")]
    assert result["failures"][0]["message"]


def test_try_stops_a_guest_at_the_timeout_given(api):
    upload(api, "spinner", hook(on_request=[INFINITE_LOOP]))
    result = try_it(api, "spinner", timeout_ms=20).json()
    assert [(f["phase"], f["kind"]) for f in result["failures"]] == [("on_request", "timeout")]
    assert result["elapsed_ms"] < 5000


def test_try_runs_the_version_named(api):
    upload(api, "mod", marker("one"))
    upload_version(api, "mod", marker("two"))
    assert dict(try_it(api, "mod").json()["headers"])["X-Version"] == "two"
    result = try_it(api, "mod", version=1).json()
    assert result["version"] == 1
    assert dict(result["headers"])["X-Version"] == "one"


def test_try_without_an_active_version_is_a_409_unless_a_version_is_named(api):
    upload(api, "idle", marker("one"))
    module = WasmModule.objects.get(name="idle")
    module.active_version = None
    module.save()
    response = try_it(api, "idle")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "'idle' has no active version: activate one, or name a version to try."
    }
    assert try_it(api, "idle", version=1).status_code == 200


def test_try_a_stored_version_that_does_not_load_is_a_409(api):
    upload(api, "mod", marker("one"))
    module = WasmModule.objects.get(name="mod")
    WasmModuleVersion.objects.create(
        module=module, number=2, binary=b"\0asm\x01\0\0\0junk", sha256="0" * 64, size=12, abi="v1"
    )
    response = try_it(api, "mod", version=2)
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Version 2 of 'mod' does not load: ")


@pytest.mark.parametrize(
    ("request_fields", "errors"),
    [
        ({"method": "G T"}, {"method": ["'G T' is not an HTTP method."]}),
        ({"path": "relative"}, {"path": ["The path must start with '/' and hold no whitespace."]}),
        ({"path": "/with space"}, {"path": ["The path must start with '/' and hold no whitespace."]}),
        ({"headers": "X-In: a"}, {"headers": [HEADERS_SHAPE]}),
        ({"headers": [["X-In"]]}, {"headers": [HEADERS_SHAPE]}),
        ({"headers": [["X-In", 5]]}, {"headers": [HEADERS_SHAPE]}),
        ({"headers": {"Bad Name": "a"}}, {"headers": ["'Bad Name' is not a header name."]}),
        (
            {"headers": {"X-In": "a\r\nX-Evil: b"}},
            {"headers": ["The value of X-In must not contain a line break or NUL."]},
        ),
        ({"headers": ["no colon"]}, {"headers": ["'no colon' is not a header: write it as Name: value"]}),
        ({"body_base64": "!!"}, {"body_base64": ["This is not valid base64."]}),
        ({"body": "text", "body_base64": "AA=="}, {"body_base64": ["Give body or body_base64, not both."]}),
        ({"timeout_ms": 0}, {"timeout_ms": ["Give a number of milliseconds over 0, at most 10000."]}),
        ({"timeout_ms": 10_001}, {"timeout_ms": ["Give a number of milliseconds over 0, at most 10000."]}),
        ({"version": 0}, {"version": ["Ensure this value is greater than or equal to 1."]}),
        ({"version": 7}, {"version": ["'mod' has no version 7."]}),
    ],
)
def test_bad_try_input_is_a_400_keyed_by_field(api, request_fields, errors):
    upload(api, "mod", marker("one"))
    response = try_it(api, "mod", **request_fields)
    assert response.status_code == 400
    assert response.json() == errors


def test_try_takes_json_only_and_an_unknown_module_is_a_404(api):
    upload(api, "mod", marker("one"))
    assert api.post(f"{API}/modules/mod/try/", {"method": "GET"}, format="multipart").status_code == 415
    assert try_it(api, "ghost").status_code == 404


def test_try_needs_the_try_permission_and_view(api):
    upload(api, "mod", marker("one"))
    viewer = client_for("view_wasmmodule", username="viewer")
    response = try_it(viewer, "mod")
    assert response.status_code == 403
    assert response.json() == {"detail": "Trying a module needs the wasmhooks.try_wasmmodule permission."}
    assert try_it(client_for("try_wasmmodule", username="tryer"), "mod").status_code == 403
    assert try_it(client_for("view_wasmmodule", "try_wasmmodule", username="both"), "mod").status_code == 200
    assert try_it(APIClient(), "mod").status_code == 403


# Authentication and permissions


def test_unauthenticated_requests_are_403_with_session_authentication_first(api):
    upload(api, "mod", marker("one"))
    anonymous = APIClient()
    for response in (
        anonymous.get(f"{API}/modules/"),
        anonymous.get(f"{API}/modules/mod/versions/"),
        anonymous.get(f"{API}/bindings/"),
        upload(anonymous, "new", marker("x")),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Authentication credentials were not provided."}
        assert "WWW-Authenticate" not in response
    assert not WasmModule.objects.filter(name="new").exists()


@override_settings(
    REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]}
)
def test_unauthenticated_requests_are_401_with_basic_authentication_first():
    make_user("view_wasmmodule", username="basic")
    anonymous = APIClient()
    response = anonymous.get(f"{API}/modules/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    wrong = APIClient(headers={"Authorization": "Basic " + base64.b64encode(b"basic:wrong").decode()})
    assert wrong.get(f"{API}/modules/").status_code == 401
    right = APIClient(headers={"Authorization": "Basic " + base64.b64encode(b"basic:pw").decode()})
    assert right.get(f"{API}/modules/").status_code == 200


def test_a_session_login_works(api):
    make_user("view_hookbinding", username="session")
    client = APIClient()
    assert client.login(username="session", password="pw")
    assert client.get(f"{API}/bindings/").status_code == 200
    assert client.get(f"{API}/modules/").status_code == 403


@pytest.mark.parametrize(
    ("codenames", "allowed"),
    [
        ((), set()),
        (("view_wasmmodule",), {"list modules", "list versions"}),
        (("add_wasmmodule",), {"create module"}),
        (("change_wasmmodule",), {"upload version", "activate"}),
        (("delete_wasmmodule",), set()),  # the module has a version
        (("delete_wasmmodule", "delete_wasmmoduleversion"), {"delete module"}),
        (("add_wasmmoduleversion", "change_wasmmoduleversion", "view_wasmmoduleversion"), set()),
        (("view_hookbinding",), {"list bindings"}),
        (("add_hookbinding",), {"create binding"}),
        (("change_hookbinding",), {"change binding"}),
        (("delete_hookbinding",), {"delete binding"}),
    ],
)
def test_each_endpoint_needs_its_model_permission(api, codenames, allowed):
    upload(api, "mod", marker("one"))
    upload(api, "other", marker("other"))
    binding = bind(api, module="mod", pattern="^/").json()["url"]
    client = client_for(*codenames, username="limited")
    attempts = {
        "list modules": lambda: client.get(f"{API}/modules/"),
        "create module": lambda: upload(client, "new", marker("new")),
        "delete module": lambda: client.delete(f"{API}/modules/other/"),
        "list versions": lambda: client.get(f"{API}/modules/mod/versions/"),
        "upload version": lambda: upload_version(client, "mod", marker("two")),
        "activate": lambda: client.post(f"{API}/modules/mod/versions/1/activate/"),
        "list bindings": lambda: client.get(f"{API}/bindings/"),
        "create binding": lambda: bind(client, module="mod", pattern="^/x"),
        "change binding": lambda: client.patch(binding, {"order": 3}, format="json"),
        "delete binding": lambda: client.delete(binding),
    }
    outcomes = {name: attempt().status_code for name, attempt in attempts.items()}
    assert {name for name, code in outcomes.items() if code != 403} == allowed
    assert all(code < 300 for name, code in outcomes.items() if name in allowed), outcomes


def test_the_permission_classes_come_from_the_setting(api):
    upload(api, "mod", marker("one"))
    staff = client_for(username="staff", is_staff=True)
    holder = client_for("view_wasmmodule", "try_wasmmodule", username="holder")
    with override_settings(WASMHOOKS_API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"]):
        assert staff.get(f"{API}/modules/").status_code == 200
        assert holder.get(f"{API}/modules/").status_code == 403
        # Running a module's code always takes the try permission too.
        assert try_it(staff, "mod").status_code == 403
        staff_who_tries = client_for("try_wasmmodule", username="staff-tries", is_staff=True)
        assert try_it(staff_who_tries, "mod").status_code == 200
    assert staff.get(f"{API}/modules/").status_code == 403
    assert holder.get(f"{API}/modules/").status_code == 200


# The OpenAPI schema


def test_the_schema_is_a_valid_openapi_3_document_of_this_api_alone(capsys):
    response = APIClient().get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "wasmhooks API"
    assert sorted(schema["paths"]) == [
        "/api/hooks/bindings/",
        "/api/hooks/bindings/{id}/",
        "/api/hooks/modules/",
        "/api/hooks/modules/{module_name}/versions/",
        "/api/hooks/modules/{module_name}/versions/{number}/",
        "/api/hooks/modules/{module_name}/versions/{number}/activate/",
        "/api/hooks/modules/{name}/",
        "/api/hooks/modules/{name}/try/",
    ]
    modules = schema["paths"]["/api/hooks/modules/"]
    assert set(modules) == {"get", "post"}
    assert list(modules["post"]["requestBody"]["content"]) == ["multipart/form-data"]
    assert "413" in modules["post"]["responses"]
    try_it_op = schema["paths"]["/api/hooks/modules/{name}/try/"]["post"]
    assert try_it_op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModuleTryResult"
    }
    # drf-spectacular prints its warnings and errors on stderr: there must be none.
    assert capsys.readouterr().err == ""


def test_the_schema_is_yaml_by_default():
    response = APIClient().get(f"{API}/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")
