"""The admin: uploads and their checks, versions, activation, bindings, try-it, permissions, history.

Every flow goes through Django's test client as a staff user holding only the permissions
the test names, and the database is checked afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django import forms
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.db import models
from django.db.models.signals import post_save
from django.template.defaultfilters import filesizeformat
from django.test import Client, override_settings
from django.test.client import BOUNDARY, encode_multipart
from django.utils.html import escape
from django.utils.timezone import localtime

from tests.guests import guest
from tests.wat import Guest, hook
from wasmhooks import uploads
from wasmhooks.admin import VersionFormSet
from wasmhooks.forms import ModuleChangeForm, no_active_version_message, read_module_file
from wasmhooks.models import HookBinding, WasmModule, WasmModuleVersion
from wasmhooks.testutils import wasm_from_wat

MODULE_PERMS = ("view_wasmmodule", "add_wasmmodule", "change_wasmmodule", "delete_wasmmodule")
VERSION_PERMS = ("view_wasmmoduleversion", "delete_wasmmoduleversion")
BINDING_PERMS = ("view_hookbinding", "add_hookbinding", "change_hookbinding", "delete_hookbinding")
EDITOR_PERMS = (*MODULE_PERMS, *VERSION_PERMS, *BINDING_PERMS)
VIEWER_PERMS = ("view_wasmmodule", "view_wasmmoduleversion", "view_hookbinding")

ADD_URL = "/admin/wasmhooks/wasmmodule/add/"
NO_BINDINGS = {"bindings-TOTAL_FORMS": "0", "bindings-INITIAL_FORMS": "0"}
"""The management form of the add page's empty bindings inline."""
MODULES_URL = "/admin/wasmhooks/wasmmodule/"
BINDINGS_URL = "/admin/wasmhooks/hookbinding/"


def staff(*codenames: str, username: str = "staff") -> User:
    """A staff user holding exactly the wasmhooks permissions named."""
    user = User.objects.create_user(username, password="unused", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="wasmhooks", codename__in=codenames)
    )
    assert user.user_permissions.count() == len(codenames)
    return user


def login(client: Client, *codenames: str) -> User:
    user = staff(*codenames)
    client.force_login(user)
    return user


@pytest.fixture
def editor(client: Client) -> User:
    return login(client, *EDITOR_PERMS)


def marked(name: str) -> bytes:
    """A guest whose on_request sets X-Hook to `name` and lets the request through."""
    g = Guest()
    return g.build(on_request=[g.do("response_set_header", "X-Hook", name), 0])


def upload(wasm: bytes, filename: str = "hook.wasm") -> SimpleUploadedFile:
    return SimpleUploadedFile(filename, wasm, content_type="application/wasm")


def change_url(module: WasmModule) -> str:
    return f"{MODULES_URL}{module.pk}/change/"


def activate_url(module: WasmModule, version: WasmModuleVersion) -> str:
    return f"{MODULES_URL}{module.pk}/versions/{version.pk}/activate/"


def try_url(module: WasmModule) -> str:
    return f"{MODULES_URL}{module.pk}/try/"


def stored(name: str = "greet", *binaries: bytes) -> WasmModule:
    """A module stored with `binaries` as versions 1, 2..., the last one active."""
    for wasm in binaries or (marked("v1"),):
        result = uploads.store_upload(name, wasm)
    return result.module


def version(module: WasmModule, number: int) -> WasmModuleVersion:
    return WasmModuleVersion.objects.get(module=module, number=number)


def form_data(response: Any) -> dict[str, Any]:
    """What a browser posts back from the admin change page in `response`, nothing changed."""
    data: dict[str, Any] = {}

    def add(form: forms.BaseForm) -> None:
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field, forms.FileField):
                continue
            if isinstance(field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def log_entries(obj: models.Model) -> list[tuple[int, str]]:
    """(action flag, change message as the history page shows it) for `obj`, oldest first."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk)
    ).order_by("pk")
    return [(entry.action_flag, entry.get_change_message()) for entry in entries]


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def form_errors(response: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = response.context["adminform"].form.errors
    return errors


# Adding a module with its first upload


def test_an_upload_through_the_admin_is_checked_once(
    client: Client, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    real_check = uploads.check_module
    monkeypatch.setattr(uploads, "check_module", lambda wasm: checked.append(wasm) or real_check(wasm))
    client.post(ADD_URL, {**NO_BINDINGS, "name": "greet", "wasm_file": upload(marked("v1"))})
    assert WasmModule.objects.get().versions.count() == 1
    assert checked == [marked("v1")]


def test_add_module_stores_the_first_version_and_activates_it(client: Client, editor: User) -> None:
    wasm = marked("v1")
    response = client.post(
        ADD_URL,
        {**NO_BINDINGS, "name": "greet", "description": "Says hello", "wasm_file": upload(wasm)},
        follow=True,
    )

    module = WasmModule.objects.get(name="greet")
    assert module.description == "Says hello"
    first = module.versions.get()
    assert module.active_version == first
    assert (first.number, bytes(first.binary), first.size, first.abi) == (1, wasm, len(wasm), "v1")
    assert first.entry_points == ["on_request"]
    assert "on_request" in first.exports
    assert first.imports == sorted(first.imports) and "wasmhooks.response_set_header" in first.imports
    assert first.uploaded_by == editor
    assert f"Stored version 1 ({filesizeformat(len(wasm))}) and made it active." in messages_of(response)
    assert log_entries(module) == [(ADDITION, "Added. Added module version “greet v1”.")]


def test_the_add_page_asks_for_name_description_and_file_only(client: Client, editor: User) -> None:
    response = client.get(ADD_URL)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == ["name", "description", "wasm_file"]
    [bindings] = response.context["inline_admin_formsets"]
    assert bindings.formset.prefix == "bindings"
    assert b'enctype="multipart/form-data"' in response.content
    assert b'accept=".wasm,application/wasm"' in response.content


def test_a_module_is_added_with_its_bindings(client: Client, editor: User) -> None:
    data = form_data(client.get(ADD_URL))
    response = client.post(
        ADD_URL,
        {**data, "name": "greet", "wasm_file": upload(marked("v1")), "bindings-0-pattern": "^/hooked/"},
        follow=True,
    )

    assert response.status_code == 200
    binding = HookBinding.objects.get()
    assert (binding.module.name, binding.pattern) == ("greet", "^/hooked/")
    assert client.get("/hooked/")["X-Hook"] == "v1"


def test_a_bad_binding_on_the_add_page_stores_nothing(client: Client, editor: User) -> None:
    data = form_data(client.get(ADD_URL))
    response = client.post(
        ADD_URL,
        {**data, "name": "greet", "wasm_file": upload(marked("v1")), "bindings-0-pattern": "(unclosed"},
    )

    assert response.status_code == 200
    [bindings_form] = response.context["inline_admin_formsets"][0].formset.forms
    assert "does not compile" in bindings_form.errors["pattern"][0]
    assert not WasmModule.objects.exists()
    assert not HookBinding.objects.exists()


def _not_wasm() -> bytes:
    return b"MZ\x90\x00 a Windows program"


def _empty() -> bytes:
    return b""


def _does_not_compile() -> bytes:
    return b"\0asm\x01\0\0\0\xff\xff"


def _unknown_imports() -> bytes:
    return wasm_from_wat(
        """(module
          (import "env" "surprise" (func)) (import "other" "thing" (func))
          (memory (export "memory") 1)
          (func (export "wasmhooks_abi_v1"))
          (func (export "on_request") (result i32) i32.const 0))"""
    )


def _no_marker() -> bytes:
    return guest('(func (export "on_request") (result i32) i32.const 0)', marker=False)


def _trapping_initialize() -> bytes:
    return guest(
        '(func (export "_initialize") unreachable) (func (export "on_request") (result i32) i32.const 0)'
    )


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (_not_wasm, "This is not a WebAssembly binary (it does not start with \\0asm)."),
        (_empty, "The submitted file is empty."),
        (_does_not_compile, "The module does not compile: "),
        (_unknown_imports, "it imports what the host does not provide: env.surprise, other.thing"),
        (_no_marker, "it does not export the ABI marker function 'wasmhooks_abi_v1'"),
        (_trapping_initialize, "The module fails to start under the default limits (trap): "),
    ],
)
def test_a_bad_file_is_a_form_error_and_nothing_is_stored(
    client: Client, editor: User, build: Callable[[], bytes], expected: str
) -> None:
    response = client.post(ADD_URL, {**NO_BINDINGS, "name": "greet", "wasm_file": upload(build())})

    assert response.status_code == 200
    [message] = form_errors(response)["wasm_file"]
    assert expected in message
    assert escape(expected) in response.content.decode()
    assert not WasmModule.objects.exists()
    assert not WasmModuleVersion.objects.exists()
    assert not LogEntry.objects.exists()


class Unreadable(SimpleUploadedFile):
    """An upload that fails the test if anything reads it."""

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("the upload was read")

    def chunks(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        raise AssertionError("the upload was read")


@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_read_module_file_refuses_a_file_over_the_limit_before_reading_it() -> None:
    with pytest.raises(ValidationError) as raised:
        read_module_file(Unreadable("big.wasm", b"\0asm" + b"\0" * 97))

    assert raised.value.code == "too_large"
    assert raised.value.messages == [
        "The module is 101 bytes, over the limit of 100 (WASMHOOKS_MAX_MODULE_BYTES)."
    ]


@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    client: Client, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    wasm = marked("big")
    assert len(wasm) > 100
    body = encode_multipart(BOUNDARY, {**NO_BINDINGS, "name": "greet", "wasm_file": upload(wasm)})
    # The upload reaches the form as an InMemoryUploadedFile, which must not be read from now on.
    monkeypatch.setattr(InMemoryUploadedFile, "read", Unreadable.read)
    monkeypatch.setattr(InMemoryUploadedFile, "chunks", Unreadable.chunks)

    # Encoded already: the test client would read the file to encode it.
    response = client.post(ADD_URL, body, content_type=f"multipart/form-data; boundary={BOUNDARY}")

    assert form_errors(response)["wasm_file"] == [
        f"The module is {len(wasm)} bytes, over the limit of 100 (WASMHOOKS_MAX_MODULE_BYTES)."
    ]
    assert not WasmModule.objects.exists()
    assert not WasmModuleVersion.objects.exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("taken", "A module named 'taken' is already defined in WASMHOOKS_MODULES."),
        ("two words", "'two words' is not a valid module name"),
        ("stored", "WebAssembly module with this Name already exists."),
    ],
)
def test_a_bad_name_is_a_form_error_and_nothing_is_stored(
    client: Client, editor: User, name: str, expected: str
) -> None:
    existing = stored("stored")

    with override_settings(WASMHOOKS_MODULES={"taken": "/nowhere/taken.wasm"}):
        response = client.post(ADD_URL, {**NO_BINDINGS, "name": name, "wasm_file": upload(marked("new"))})

    [message] = form_errors(response)["name"]
    assert message.startswith(expected)
    assert list(WasmModule.objects.all()) == [existing]
    assert WasmModuleVersion.objects.count() == 1


# The module's page: new versions, activation, rollback


def test_the_change_page_shows_versions_read_only_with_activate_buttons(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))

    response = client.get(change_url(module))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields["active_version"].queryset) == [version(module, 2), version(module, 1)]
    assert list(response.context["adminform"].readonly_fields) == ["name"]
    [versions, bindings] = response.context["inline_admin_formsets"]
    assert versions.formset.model is WasmModuleVersion and bindings.formset.model is HookBinding
    assert not versions.has_add_permission and not versions.has_change_permission
    rows = {row.original.number: row for row in versions}
    assert list(rows) == [2, 1]
    cells = {
        field.field["name"]: str(field.contents())
        for fieldset in rows[1]
        for line in fieldset
        for field in line
    }
    v1 = version(module, 1)
    assert cells["number"] == "1"
    assert cells["sha256_hex"] == v1.sha256
    assert ">SHA-256" in response.content.decode()
    assert cells["size_display"] == f"{filesizeformat(v1.size)} ({v1.size} bytes)"
    assert cells["entry_point_list"] == "on_request"
    assert cells["abi"] == "v1"
    assert "wasmhooks.response_set_header" in cells["import_list"]
    assert 'alt="False"' in cells["active"]
    button = f'formaction="{activate_url(module, v1)}" formmethod="post"'
    assert button in cells["activate_button"]
    assert "Activate version 1" in response.content.decode()
    assert "Activate version 2" not in response.content.decode()  # the active one
    assert cells["uploaded_by"] == "-"
    v2 = version(module, 2)
    uploaded = localtime(v2.uploaded_at).strftime("%Y-%m-%d %H:%M")
    label = f"version 2 ({v2.size} bytes, sha256 {v2.sha256[:12]}, uploaded {uploaded})"
    assert f'<option value="{v2.pk}" selected>{label}</option>' in response.content.decode()


def test_a_new_version_uploaded_on_the_change_page_becomes_active(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"))
    data = form_data(client.get(change_url(module)))
    wasm = marked("v2")

    response = client.post(change_url(module), {**data, "wasm_file": upload(wasm)}, follow=True)

    module.refresh_from_db()
    second = version(module, 2)
    assert module.active_version == second
    assert bytes(second.binary) == wasm and second.uploaded_by == editor
    assert f"Stored version 2 ({filesizeformat(len(wasm))}) and made it active." in messages_of(response)
    assert log_entries(module) == [(CHANGE, "Added module version “greet v2”. Changed Active version.")]


def test_a_new_version_can_be_stored_without_activating_it(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"))
    data = form_data(client.get(change_url(module)))
    del data["activate"]

    response = client.post(change_url(module), {**data, "wasm_file": upload(marked("v2"))}, follow=True)

    module.refresh_from_db()
    assert module.active_version == version(module, 1)
    assert module.versions.count() == 2
    assert any(message.endswith("; it is not active.") for message in messages_of(response))
    assert log_entries(module) == [(CHANGE, "Added module version “greet v2”.")]


def test_an_identical_upload_makes_no_duplicate_and_says_so(client: Client, editor: User) -> None:
    wasm = marked("v1")
    module = stored("greet", wasm)
    data = form_data(client.get(change_url(module)))

    response = client.post(change_url(module), {**data, "wasm_file": upload(wasm)}, follow=True)

    assert module.versions.count() == 1
    assert "The file is identical to version 1, already stored: no new version was made." in messages_of(
        response
    )
    assert log_entries(module) == [(CHANGE, "No fields changed.")]


def test_an_identical_upload_of_an_older_version_activates_it(client: Client, editor: User) -> None:
    old = marked("v1")
    module = stored("greet", old, marked("v2"))
    data = form_data(client.get(change_url(module)))

    response = client.post(change_url(module), {**data, "wasm_file": upload(old)}, follow=True)

    module.refresh_from_db()
    assert module.active_version == version(module, 1)
    assert module.versions.count() == 2
    identical = "The file is identical to version 1, already stored: no new version was made."
    assert f"{identical} Version 1 is now active." in messages_of(response)
    assert log_entries(module) == [(CHANGE, "Changed Active version.")]


def test_a_bad_new_version_is_a_form_error_and_changes_nothing(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"))
    data = form_data(client.get(change_url(module)))

    response = client.post(
        change_url(module), {**data, "description": "changed", "wasm_file": upload(b"not wasm")}
    )

    assert response.status_code == 200
    assert "This is not a WebAssembly binary" in form_errors(response)["wasm_file"][0]
    module.refresh_from_db()
    assert module.description == "" and module.versions.count() == 1
    assert log_entries(module) == []


def test_rollback_by_picking_an_earlier_version(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    data = form_data(client.get(change_url(module)))

    response = client.post(change_url(module), {**data, "active_version": version(module, 1).pk}, follow=True)

    module.refresh_from_db()
    assert module.active_version == version(module, 1)
    assert "Version 1 of “greet” is now active." in messages_of(response)
    assert log_entries(module) == [(CHANGE, "Changed Active version.")]


def test_clearing_the_active_version_warns_that_its_bindings_answer_503(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"))
    HookBinding.objects.create(module=module, pattern="^/hooked/")
    assert client.get("/hooked/")["X-Hook"] == "v1"
    data = form_data(client.get(change_url(module)))
    del data["active_version"]

    response = client.post(change_url(module), data, follow=True)

    module.refresh_from_db()
    assert module.active_version is None
    assert (
        "No version of “greet” is active: requests matching its 1 enabled binding are answered 503 "
        "(on_error=block) until you activate one or disable it."
    ) in messages_of(response)
    # What the message says: closed, not open.
    assert client.get("/hooked/").status_code == 503
    changelist = client.get(MODULES_URL)
    assert changelist.context["cl"].result_list.get().active_number is None
    assert b'<td class="field-active_version_number">-</td>' in changelist.content


def test_the_no_active_version_warning_counts_bindings_as_saved_in_the_same_post(
    client: Client, editor: User
) -> None:
    module = stored("greet", marked("v1"))
    HookBinding.objects.create(module=module, pattern="^/a/", enabled=False)
    data = form_data(client.get(change_url(module)))
    del data["active_version"]

    # A binding is added in the save that clears the active version.
    response = client.post(change_url(module), {**data, "bindings-1-pattern": "^/b/"}, follow=True)

    assert [b.pattern for b in HookBinding.objects.filter(enabled=True)] == ["^/b/"]
    assert (
        "No version of “greet” is active: requests matching its 1 enabled binding are answered 503 "
        "(on_error=block) until you activate one or disable it."
    ) in messages_of(response)
    assert client.get("/b/").status_code == 503
    assert client.get("/a/").status_code == 200


@pytest.mark.parametrize(
    ("bindings", "expected"),
    [
        (
            [],
            "No version of “greet” is active. It has no enabled binding; requests matching one enabled "
            "later will be answered 503 (on_error=block) until you activate a version.",
        ),
        (
            [("^/a/", "block", False)],
            "No version of “greet” is active. It has no enabled binding; requests matching one enabled "
            "later will be answered 503 (on_error=block) until you activate a version.",
        ),
        (
            [("^/a/", "block", True), ("^/b/", "block", True), ("^/c/", "continue", False)],
            "No version of “greet” is active: requests matching its 2 enabled bindings are answered 503 "
            "(on_error=block) until you activate one or disable them.",
        ),
        (
            [("^/a/", "continue", True)],
            "No version of “greet” is active: requests matching its 1 enabled binding go on without the "
            "hook (on_error=continue), each failure logged and counted as not_found, until you activate "
            "one or disable it.",
        ),
        (
            [("^/a/", "block", True), ("^/b/", "continue", True), ("^/c/", "continue", True)],
            "No version of “greet” is active: requests matching its 3 enabled bindings fail until you "
            "activate one or disable them; under on_error=block (1 of them) they are answered 503, under "
            "on_error=continue (2) they go on without the hook.",
        ),
    ],
    ids=["none", "disabled", "blocking", "continuing", "mixed"],
)
def test_the_no_active_version_warning_says_what_each_binding_does(
    client: Client, bindings: list[tuple[str, str, bool]], expected: str
) -> None:
    module = stored("greet", marked("v1"))
    for pattern, on_error, enabled in bindings:
        HookBinding.objects.create(module=module, pattern=pattern, on_error=on_error, enabled=enabled)
    module.active_version = None
    module.save()

    assert no_active_version_message(module) == expected
    # The message tells the truth about each binding.
    for pattern, on_error, enabled in bindings:
        response = client.get(pattern.strip("^"))
        assert response.status_code == (503 if enabled and on_error == "block" else 200)
        assert "X-Hook" not in response


def test_a_version_of_another_module_cannot_be_picked(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"))
    other = stored("other", marked("other"))
    data = form_data(client.get(change_url(module)))

    response = client.post(change_url(module), {**data, "active_version": other.active_version_id})

    assert form_errors(response)["active_version"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    module.refresh_from_db()
    assert module.active_version == version(module, 1)


def test_picking_a_version_and_uploading_one_to_activate_is_refused(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    data = form_data(client.get(change_url(module)))

    response = client.post(
        change_url(module),
        {**data, "active_version": version(module, 1).pk, "wasm_file": upload(marked("v3"))},
    )

    assert form_errors(response)["__all__"] == [
        "Either pick the active version or upload a new one to activate, not both."
    ]
    assert module.versions.count() == 2
    module.refresh_from_db()
    assert module.active_version == version(module, 2)


def test_the_name_cannot_change_after_creation(client: Client, editor: User) -> None:
    module = stored("greet")
    data = form_data(client.get(change_url(module)))

    client.post(change_url(module), {**data, "name": "renamed", "description": "new words"})

    module.refresh_from_db()
    assert (module.name, module.description) == ("greet", "new words")
    assert log_entries(module) == [(CHANGE, "Changed Description.")]


def test_the_activate_button_activates_and_logs(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    first = version(module, 1)

    response = client.post(activate_url(module, first), follow=True)

    assert response.redirect_chain == [(change_url(module), 302)]
    module.refresh_from_db()
    assert module.active_version == first
    assert "Version 1 of “greet” is now active." in messages_of(response)
    assert log_entries(module) == [(CHANGE, "Activated version 1.")]

    again = client.post(activate_url(module, first), follow=True)

    assert "Version 1 of “greet” was already active." in messages_of(again)
    assert len(log_entries(module)) == 1


def test_the_activate_view_takes_posts_for_this_modules_versions_only(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    other = stored("other", marked("other"))
    first = version(module, 1)

    assert client.get(activate_url(module, first)).status_code == 405
    assert (
        client.post(f"{MODULES_URL}{module.pk}/versions/{other.active_version_id}/activate/").status_code
        == 404
    )
    assert client.post(f"{MODULES_URL}999999/versions/{first.pk}/activate/").status_code == 404
    module.refresh_from_db()
    assert module.active_version == version(module, 2)


def test_the_activate_view_is_csrf_protected() -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(*EDITOR_PERMS))

    assert client.post(activate_url(module, version(module, 1))).status_code == 403
    module.refresh_from_db()
    assert module.active_version == version(module, 2)

    # The button submits the change form, token included, to the activate view.
    data = form_data(client.get(change_url(module)))
    token = client.cookies["csrftoken"].value
    response = client.post(activate_url(module, version(module, 1)), {**data, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    module.refresh_from_db()
    assert module.active_version == version(module, 1)


def delete_version(response: Any, number: int) -> str:
    """The name of the "delete" checkbox of version `number` on the module page in `response`."""
    [form] = [
        f for f in response.context["inline_admin_formsets"][0].formset.forms if f.instance.number == number
    ]
    return f"{form.prefix}-DELETE"


def test_an_inactive_version_can_be_deleted_from_the_module_page(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    response = client.get(change_url(module))

    client.post(change_url(module), {**form_data(response), delete_version(response, 1): "on"})

    assert list(module.versions.values_list("number", flat=True)) == [2]
    assert log_entries(module) == [(CHANGE, "Deleted module version “greet v1”.")]


def test_the_active_version_cannot_be_deleted(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    response = client.get(change_url(module))

    response = client.post(change_url(module), {**form_data(response), delete_version(response, 2): "on"})

    assert response.status_code == 200
    versions = response.context["inline_admin_formsets"][0].formset
    assert versions.non_form_errors() == [
        "Version 2 is the active version and cannot be deleted. Activate another version first."
    ]
    assert "Activate another version first." in response.content.decode()
    assert module.versions.count() == 2
    assert log_entries(module) == []


def test_the_active_version_can_be_deleted_when_another_is_picked_at_once(
    client: Client, editor: User
) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    response = client.get(change_url(module))
    data = {**form_data(response), "active_version": version(module, 1).pk, delete_version(response, 2): "on"}

    client.post(change_url(module), data)

    module.refresh_from_db()
    assert module.active_version == version(module, 1)
    assert list(module.versions.values_list("number", flat=True)) == [1]
    assert log_entries(module) == [(CHANGE, "Changed Active version. Deleted module version “greet v2”.")]


@pytest.mark.parametrize("uploaded", ["identical to the deleted version", "new"])
def test_versions_cannot_be_deleted_in_the_save_that_uploads_one(
    client: Client, editor: User, uploaded: str
) -> None:
    old = marked("v1")
    module = stored("greet", old, marked("v2"))
    response = client.get(change_url(module))
    wasm = marked("v3") if uploaded == "new" else old
    data = {**form_data(response), "wasm_file": upload(wasm), delete_version(response, 1): "on"}
    assert data["activate"] == "on"

    response = client.post(change_url(module), data)

    assert response.status_code == 200
    versions = response.context["inline_admin_formsets"][0].formset
    assert versions.non_form_errors() == [
        "Upload a new version or delete versions, not both in one save: an identical file would reuse, "
        "and may activate, a version you are deleting."
    ]
    assert "Upload a new version or delete versions" in response.content.decode()
    module.refresh_from_db()
    assert module.active_version == version(module, 2)
    assert list(module.versions.values_list("number", flat=True)) == [2, 1]
    assert log_entries(module) == []


def test_a_version_active_by_the_time_it_is_deleted_is_kept(
    client: Client, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the check at validation, the upload re-activates version 1 before the inline
    # deletes it: the deletion, checked again under the lock, must leave it alone.
    monkeypatch.setattr(VersionFormSet, "refuse_deleting_with_upload", lambda self: None)
    old = marked("v1")
    module = stored("greet", old, marked("v2"))
    response = client.get(change_url(module))
    data = {**form_data(response), "wasm_file": upload(old), delete_version(response, 1): "on"}

    response = client.post(change_url(module), data, follow=True)

    module.refresh_from_db()
    assert module.active_version == version(module, 1)
    assert list(module.versions.values_list("number", flat=True)) == [2, 1]
    identical = "The file is identical to version 1, already stored: no new version was made."
    assert f"{identical} Version 1 is now active." in messages_of(response)
    assert "Version 1 of “greet” was not deleted: it is the active version." in messages_of(response)
    assert log_entries(module) == [(CHANGE, "Changed Active version.")]


# Bindings, inline and on their own pages


def test_a_binding_added_inline_is_stored_and_logged(client: Client, editor: User) -> None:
    module = stored("greet")
    data = form_data(client.get(change_url(module)))

    client.post(
        change_url(module),
        {
            **data,
            "bindings-0-pattern": "^/hooked/",
            "bindings-0-methods": "get, post, get",
            "bindings-0-order": "5",
        },
    )

    binding = HookBinding.objects.get()
    assert (binding.module, binding.pattern, binding.methods, binding.order) == (
        module,
        "^/hooked/",
        "GET, POST",
        5,
    )
    assert log_entries(module) == [(CHANGE, "Added hook binding “greet on ^/hooked/”.")]


def test_a_bad_pattern_inline_is_a_form_error(client: Client, editor: User) -> None:
    module = stored("greet")
    data = form_data(client.get(change_url(module)))

    response = client.post(change_url(module), {**data, "bindings-0-pattern": "^/(unclosed"})

    assert response.status_code == 200
    [bindings_form] = response.context["inline_admin_formsets"][1].formset.forms
    [message] = bindings_form.errors["pattern"]
    assert "does not compile: missing ), unterminated subpattern" in message
    assert not HookBinding.objects.exists()


def test_an_inline_binding_is_edited_on_the_module_page(client: Client, editor: User) -> None:
    module = stored("greet")
    binding = HookBinding.objects.create(module=module, pattern="^/old/")
    data = form_data(client.get(change_url(module)))
    assert data["bindings-0-id"] == binding.pk

    client.post(change_url(module), {**data, "bindings-0-pattern": "^/new/", "bindings-0-timeout_ms": "20"})

    binding.refresh_from_db()
    assert (binding.pattern, binding.timeout_ms) == ("^/new/", 20.0)
    assert log_entries(module) == [
        (CHANGE, "Changed Pattern and Timeout (ms) for hook binding “greet on ^/new/”.")
    ]


def binding_data(module: WasmModule, **changes: str) -> dict[str, Any]:
    return {
        "module": module.pk,
        "pattern": "^/hooked/",
        "methods": "",
        "order": "0",
        "enabled": "on",
        "timeout_ms": "",
        "memory_mb": "",
        "fuel": "",
        "on_error": "block",
        "config": "",
        "note": "",
        **changes,
    }


def test_a_binding_has_its_own_add_and_change_pages(client: Client, editor: User) -> None:
    module = stored("greet")

    response = client.post(f"{BINDINGS_URL}add/", binding_data(module, methods="get", note="why"))

    assert response.status_code == 302
    binding = HookBinding.objects.get()
    assert (binding.pattern, binding.methods, binding.note) == ("^/hooked/", "GET", "why")
    assert log_entries(binding) == [(ADDITION, "Added.")]

    client.post(
        f"{BINDINGS_URL}{binding.pk}/change/",
        binding_data(module, methods="GET", note="why", on_error="continue", fuel="1000"),
    )

    binding.refresh_from_db()
    assert (binding.on_error, binding.fuel) == ("continue", 1000)
    assert log_entries(binding)[1] == (CHANGE, "Changed Fuel and On error.")


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"pattern": "(?P<x"}, "pattern", "'pattern' '(?P<x' does not compile"),
        ({"methods": "GET, P0ST"}, "methods", "'methods' must be a list of HTTP methods"),
        ({"memory_mb": "0.01"}, "memory_mb", "'memory_mb' must allow at least one 64 KiB page"),
        ({"timeout_ms": "-5"}, "timeout_ms", "'timeout_ms' must be a positive number"),
    ],
)
def test_a_bad_binding_on_its_own_page_is_a_form_error(
    client: Client, editor: User, changes: dict[str, str], field: str, expected: str
) -> None:
    module = stored("greet")

    response = client.post(f"{BINDINGS_URL}add/", binding_data(module, **changes))

    assert response.status_code == 200
    [message] = form_errors(response)[field]
    assert message.startswith(expected)
    assert not HookBinding.objects.exists()


def test_the_binding_list_shows_and_filters(client: Client, editor: User) -> None:
    greet = stored("greet")
    other = stored("other", marked("other"))
    HookBinding.objects.create(module=greet, pattern="^/a/", methods="GET, POST", timeout_ms=20)
    HookBinding.objects.create(module=greet, pattern="^/b/", enabled=False, on_error="continue")
    HookBinding.objects.create(module=other, pattern="^/c/")

    everything = client.get(BINDINGS_URL)
    greets = client.get(BINDINGS_URL, {"module__id__exact": greet.pk})
    disabled = client.get(BINDINGS_URL, {"enabled__exact": "0"})

    assert [b.pattern for b in everything.context["cl"].result_list] == ["^/a/", "^/b/", "^/c/"]
    assert [b.pattern for b in greets.context["cl"].result_list] == ["^/a/", "^/b/"]
    assert [b.pattern for b in disabled.context["cl"].result_list] == ["^/b/"]
    page = everything.content.decode()
    assert '<td class="field-method_display">GET, POST</td>' in page
    assert '<td class="field-method_display">all</td>' in page
    assert '<td class="field-timeout_ms">20.0</td>' in page
    assert '<td class="field-on_error">continue</td>' in page


@pytest.fixture
def saved_bindings() -> Iterator[list[HookBinding]]:
    """Every HookBinding saved during the test, as `post_save` sent it."""
    saved: list[HookBinding] = []

    def receiver(sender: type[HookBinding], instance: HookBinding, **kwargs: Any) -> None:
        saved.append(instance)

    post_save.connect(receiver, sender=HookBinding)
    yield saved
    post_save.disconnect(receiver, sender=HookBinding)


def test_bulk_disable_and_enable_save_and_log_each_binding(
    client: Client, editor: User, saved_bindings: list[HookBinding]
) -> None:
    module = stored("greet")
    first, second, third = (HookBinding.objects.create(module=module, pattern=f"^/{n}/") for n in "abc")
    saved_bindings.clear()

    response = client.post(
        BINDINGS_URL, {"action": "disable_bindings", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert sorted(b.pk for b in saved_bindings) == [first.pk, second.pk]
    assert list(HookBinding.objects.filter(enabled=True)) == [third]
    assert "Disabled 2 bindings." in messages_of(response)
    assert log_entries(first) == [(CHANGE, "Changed Enabled.")]
    saved_bindings.clear()

    response = client.post(
        BINDINGS_URL, {"action": "enable_bindings", "_selected_action": [first.pk, third.pk]}, follow=True
    )

    assert [b.pk for b in saved_bindings] == [first.pk]  # the third was already enabled
    assert "Enabled 1 binding." in messages_of(response)
    assert list(HookBinding.objects.filter(enabled=False)) == [second]
    assert log_entries(first) == [(CHANGE, "Changed Enabled."), (CHANGE, "Changed Enabled.")]
    assert log_entries(third) == []


def test_bulk_delete_deletes_one_binding_at_a_time(client: Client, editor: User) -> None:
    module = stored("greet")
    doomed = [HookBinding.objects.create(module=module, pattern=f"^/{n}/") for n in "ab"]
    deleted: list[int] = []

    def receiver(sender: type[HookBinding], instance: HookBinding, **kwargs: Any) -> None:
        deleted.append(instance.pk)

    models.signals.post_delete.connect(receiver, sender=HookBinding)
    try:
        client.post(
            BINDINGS_URL,
            {"action": "delete_selected", "_selected_action": [b.pk for b in doomed], "post": "yes"},
        )
    finally:
        models.signals.post_delete.disconnect(receiver, sender=HookBinding)

    assert sorted(deleted) == sorted(b.pk for b in doomed)
    assert not HookBinding.objects.exists()
    assert [flag for flag, _message in log_entries(doomed[0])] == [DELETION]


def test_bulk_delete_of_modules_takes_their_versions_and_bindings(client: Client, editor: User) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    HookBinding.objects.create(module=module, pattern="^/a/")
    kept = stored("kept", marked("kept"))

    client.post(MODULES_URL, {"action": "delete_selected", "_selected_action": [module.pk], "post": "yes"})

    assert list(WasmModule.objects.all()) == [kept]
    assert list(WasmModuleVersion.objects.all()) == [kept.active_version]
    assert not HookBinding.objects.exists()
    assert [flag for flag, _message in log_entries(module)] == [DELETION]


@pytest.mark.parametrize(
    ("codenames", "lacking"),
    [
        (("delete_wasmmodule",), {"module version", "hook binding"}),
        (("delete_wasmmodule", "delete_hookbinding"), {"module version"}),
        (("delete_wasmmodule", "delete_wasmmoduleversion"), {"hook binding"}),
    ],
)
def test_deleting_a_module_needs_delete_permission_on_its_versions_and_bindings(
    client: Client, codenames: tuple[str, ...], lacking: set[str]
) -> None:
    module = stored("greet", marked("v1"))
    HookBinding.objects.create(module=module, pattern="^/a/")
    login(client, "view_wasmmodule", *codenames)

    page = client.get(f"{MODULES_URL}{module.pk}/delete/")
    deleted = client.post(f"{MODULES_URL}{module.pk}/delete/", {"post": "yes"})
    bulk = client.post(
        MODULES_URL, {"action": "delete_selected", "_selected_action": [module.pk], "post": "yes"}
    )

    assert page.context["perms_lacking"] == lacking
    assert (deleted.status_code, bulk.status_code) == (403, 403)
    assert list(WasmModule.objects.all()) == [module]
    assert module.versions.count() == 1 and module.bindings.count() == 1


def test_a_module_is_deleted_with_the_delete_permissions_of_what_it_holds(client: Client) -> None:
    unbound = stored("unbound", marked("v1"))
    bound = stored("bound", marked("v2"))
    HookBinding.objects.create(module=bound, pattern="^/a/")
    user = login(client, "view_wasmmodule", "delete_wasmmodule", "delete_wasmmoduleversion")

    assert client.post(f"{MODULES_URL}{unbound.pk}/delete/", {"post": "yes"}).status_code == 302
    user.user_permissions.add(Permission.objects.get(codename="delete_hookbinding"))
    assert client.post(f"{MODULES_URL}{bound.pk}/delete/", {"post": "yes"}).status_code == 302

    assert not WasmModule.objects.exists()
    assert not WasmModuleVersion.objects.exists()
    assert not HookBinding.objects.exists()


def test_the_module_list_shows_versions_bindings_and_searches_by_name(client: Client, editor: User) -> None:
    greet = stored("greet", marked("v1"), marked("v2"), marked("v3"))
    HookBinding.objects.create(module=greet, pattern="^/a/")
    HookBinding.objects.create(module=greet, pattern="^/b/")
    stored("other", marked("other"))

    response = client.get(MODULES_URL)
    found = client.get(MODULES_URL, {"q": "gree"})

    summary = {
        m.name: (m.active_number, m.version_count, m.binding_count)
        for m in response.context["cl"].result_list
    }
    assert summary == {"greet": (3, 3, 2), "other": (1, 1, 0)}
    page = response.content.decode()
    assert '<td class="field-active_version_number">version 3</td>' in page
    assert f'<a href="{BINDINGS_URL}?module__id__exact={greet.pk}">2</a>' in page
    assert [m.name for m in found.context["cl"].result_list] == ["greet"]


# After an admin change, the middleware of this process runs the new state at once


def test_a_binding_added_in_the_admin_runs_on_the_next_request(client: Client, editor: User) -> None:
    client.post(ADD_URL, {**NO_BINDINGS, "name": "greet", "wasm_file": upload(marked("from-admin"))})
    module = WasmModule.objects.get()
    assert "X-Hook" not in client.get("/hooked/")

    client.post(f"{BINDINGS_URL}add/", binding_data(module))

    assert client.get("/hooked/")["X-Hook"] == "from-admin"

    client.post(
        change_url(module), {**form_data(client.get(change_url(module))), "wasm_file": upload(marked("v2"))}
    )

    assert client.get("/hooked/")["X-Hook"] == "v2"

    binding = HookBinding.objects.get()
    client.post(BINDINGS_URL, {"action": "disable_bindings", "_selected_action": [binding.pk]})

    assert "X-Hook" not in client.get("/hooked/")


# Try it


def responder() -> bytes:
    """Logs, reads the X-Name request header into a context value, answers 201 with a header and body."""
    g = Guest()
    return g.build(
        on_request=[
            g.do("log", 1, "hello from the guest"),
            g.do("request_set_header", "X-Seen", "yes"),
            g.do("context_set", "mood", "fine"),
            g.expect(0, "response_set_status", 201),
            g.expect(0, "response_set_header", "X-Hook", "answered"),
            g.expect(0, "response_set_body", "made by the hook"),
            1,
        ]
    )


def test_try_it_shows_status_headers_body_logs_and_time(client: Client) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    module = stored("greet", marked("v1"), responder())

    page = client.get(try_url(module))
    assert page.status_code == 200
    assert page.context["form"]["version"].value() == module.active_version_id
    assert "admin/base_site.html" in [t.name for t in page.templates]
    assert page.context["site_header"] == "Django administration"

    response = client.post(
        try_url(module),
        {
            "version": module.active_version_id,
            "method": "post",
            "path": "/orders/?page=2",
            "headers": "X-Name: Ada\r\n\r\nContent-Type: text/plain\r\n",
            "body": "line",
            "config": "",
            "timeout_ms": "",
        },
    )

    result = response.context["result"]
    assert result["status"] == 201 and result["answered_by_hook"] is True
    assert ["X-Hook", "answered"] in result["headers"]
    assert result["body"] == "made by the hook"
    assert result["logs"] == [{"level": "info", "message": "hello from the guest"}]
    assert result["failures"] == []
    assert result["request_headers"]["X-Name"] == "Ada" and result["request_headers"]["X-Seen"] == "yes"
    assert result["context"] == {"mood": "fine"}
    html = response.content.decode()
    assert '<td id="try-status">201 Created</td>' in html
    assert "the hook (on_request answered)" in html
    assert '<tr><th scope="row">X-Hook</th><td>answered</td></tr>' in html
    assert '<pre id="try-body">made by the hook</pre>' in html
    assert '<tr><th scope="row">info</th><td>hello from the guest</td></tr>' in html
    assert f'<td id="try-elapsed">{result["elapsed_ms"]} ms</td>' in html
    assert 'request.wasmhooks["mood"]' in html


def test_try_it_runs_the_version_picked_and_the_request_reaches_the_stand_in_view(client: Client) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    g = Guest()
    passing = g.build(on_response=[g.do("response_set_header", "X-After", "yes"), 0])
    module = stored("greet", passing, responder())

    response = client.post(
        try_url(module), {"version": version(module, 1).pk, "method": "GET", "path": "/", "timeout_ms": "30"}
    )

    result = response.context["result"]
    assert result["version"] == version(module, 1)
    assert (result["status"], result["answered_by_hook"], result["body"]) == (200, False, "")
    assert ["X-After", "yes"] in result["headers"]
    html = response.content.decode()
    assert "the view (the hook let the request through)" in html
    assert '<p id="try-body">Empty.</p>' in html
    assert "<h2>Result of version 1</h2>" in html


def test_try_it_shows_a_failure(client: Client) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    module = stored("greet", hook(on_request=["unreachable"]))

    response = client.post(
        try_url(module), {"version": module.active_version_id, "method": "GET", "path": "/"}
    )

    result = response.context["result"]
    assert result["status"] == 503 and result["answered_by_hook"] is False
    [failure] = result["failures"]
    assert (failure["phase"], failure["kind"]) == ("on_request", "trap")
    assert "unreachable" in failure["message"]
    html = response.content.decode()
    assert '<td id="try-status">503 Service Unavailable</td>' in html
    assert f"<td>on_request</td><td>trap</td><td>{failure['message']}</td>" in html


def test_try_it_shows_a_binary_body_and_an_unnamed_status(client: Client) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    g = Guest()
    wasm = g.build(
        on_request=[
            g.expect(0, "response_set_status", 599),
            f"(i32.store8 (i32.const 40000) (i32.const 255)) {g.do('response_set_body', 40000, 1)}",
            1,
        ]
    )
    module = stored("greet", wasm)

    response = client.post(
        try_url(module), {"version": module.active_version_id, "method": "GET", "path": "/"}
    )

    result = response.context["result"]
    assert (result["status"], result["reason"], result["body_base64"]) == (599, "", "/w==")
    html = response.content.decode()
    assert '<td id="try-status">599 </td>' in html
    assert "<p>Binary, 1 bytes; in base64:</p>" in html
    assert '<pre id="try-body">/w==</pre>' in html


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        (
            {"headers": "X-Good: 1\nno colon here"},
            "headers",
            "'no colon here' is not a header: write it as Name: value",
        ),
        ({"method": "G ET"}, "method", "Enter an HTTP method such as GET or POST."),
        ({"path": "orders"}, "path", "The path must start with '/'."),
        ({"timeout_ms": "0"}, "timeout_ms", "Enter a positive number of milliseconds."),
        ({"timeout_ms": "10001"}, "timeout_ms", "Ensure this value is less than or equal to 10000."),
    ],
)
def test_try_it_form_errors(client: Client, changes: dict[str, str], field: str, expected: str) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    module = stored("greet")

    response = client.post(
        try_url(module), {"version": module.active_version_id, "method": "GET", "path": "/", **changes}
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [expected]
    assert response.context["result"] is None
    assert escape(expected) in response.content.decode()


def test_try_it_reports_a_version_that_does_not_load(client: Client) -> None:
    login(client, "view_wasmmodule", "try_wasmmodule")
    module = stored("greet")
    broken = WasmModuleVersion.objects.create(
        module=module, number=2, binary=b"\0asm junk", sha256="0" * 64, size=9, abi="v1"
    )

    response = client.post(try_url(module), {"version": broken.pk, "method": "GET", "path": "/"})

    [message] = response.context["form"].errors["version"]
    assert message.startswith("Version 2 does not load: ")
    assert response.context["result"] is None


def test_try_it_needs_its_permission_and_view_permission(client: Client) -> None:
    module = stored("greet")
    user = login(client, "view_wasmmodule", "change_wasmmodule")

    assert client.get(try_url(module)).status_code == 403
    assert b">Try it</a>" not in client.get(change_url(module)).content

    user.user_permissions.add(Permission.objects.get(codename="try_wasmmodule"))
    assert client.get(try_url(module)).status_code == 200
    assert f'<a href="{try_url(module)}">Try it</a>'.encode() in client.get(change_url(module)).content
    assert client.get(f"{MODULES_URL}999999/try/").status_code == 404

    only_try = Client()
    only_try.force_login(staff("try_wasmmodule", username="tryer"))
    assert only_try.get(try_url(module)).status_code == 403


# Permissions and history


def test_staff_without_permissions_sees_nothing(client: Client) -> None:
    module = stored("greet")
    login(client)

    assert client.get(MODULES_URL).status_code == 403
    assert client.get(change_url(module)).status_code == 403
    assert client.get(BINDINGS_URL).status_code == 403
    assert client.post(activate_url(module, module.active_version)).status_code == 403
    assert b"WebAssembly" not in client.get("/admin/").content


def test_view_permission_shows_everything_and_changes_nothing(client: Client) -> None:
    module = stored("greet", marked("v1"), marked("v2"))
    binding = HookBinding.objects.create(module=module, pattern="^/a/")
    login(client, *VIEWER_PERMS)

    assert client.get(MODULES_URL).status_code == 200
    page = client.get(change_url(module))
    assert page.status_code == 200
    assert [name for name, _options in page.context["adminform"].fieldsets] == [None]
    assert "Activate version 1" not in page.content.decode()
    assert b"Upload a new version" not in page.content
    [versions, bindings] = page.context["inline_admin_formsets"]
    assert [row.original.number for row in versions] == [2, 1]
    assert [row.original for row in bindings] == [binding]

    first = version(module, 1)
    assert client.post(change_url(module), {"active_version": first.pk}).status_code == 403
    assert client.post(activate_url(module, first)).status_code == 403
    assert (
        client.post(ADD_URL, {**NO_BINDINGS, "name": "new", "wasm_file": upload(marked("new"))}).status_code
        == 403
    )
    assert client.post(f"{BINDINGS_URL}{binding.pk}/change/", binding_data(module)).status_code == 403
    assert client.get(BINDINGS_URL).context["action_form"] is None  # no action without change permission
    module.refresh_from_db()
    assert module.active_version == version(module, 2)
    assert not WasmModule.objects.filter(name="new").exists()
    assert not LogEntry.objects.exists()


def test_module_change_permission_without_version_permissions_hides_versions(client: Client) -> None:
    module = stored("greet")
    login(client, "view_wasmmodule", "change_wasmmodule")

    page = client.get(change_url(module))

    assert page.status_code == 200
    assert page.context["inline_admin_formsets"] == []


def test_the_history_page_lists_uploads_activations_and_binding_changes(client: Client, editor: User) -> None:
    client.post(ADD_URL, {**NO_BINDINGS, "name": "greet", "wasm_file": upload(marked("v1"))})
    module = WasmModule.objects.get()
    client.post(
        change_url(module), {**form_data(client.get(change_url(module))), "wasm_file": upload(marked("v2"))}
    )
    client.post(activate_url(module, version(module, 1)))
    data = form_data(client.get(change_url(module)))
    client.post(change_url(module), {**data, "bindings-0-pattern": "^/a/"})

    history = client.get(f"{MODULES_URL}{module.pk}/history/").content.decode()

    for text in (
        "Added module version “greet v1”.",
        "Added module version “greet v2”. Changed Active version.",
        "Activated version 1.",
        "Added hook binding “greet on ^/a/”.",
    ):
        assert text in history
    assert [user for user in LogEntry.objects.values_list("user__username", flat=True)] == ["staff"] * 4


def test_the_change_form_keeps_uploads_out_of_its_changed_fields() -> None:
    module = stored("greet")
    data = {"description": "", "active_version": module.active_version_id}
    wasm = marked("v2")
    form = ModuleChangeForm(data, {"wasm_file": upload(wasm)}, instance=module)

    assert form.is_valid()
    assert form.changed_data == []  # activate is unchecked and a file is given, yet neither counts
    assert form.wasm == wasm
