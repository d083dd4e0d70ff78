"""The Django admin for stored modules and bindings.

A module is added with its first `.wasm` file; its page lists its versions (read-only, with
an Activate button each), takes a new version, rolls back by picking an earlier one, edits
its bindings inline, and links to "Try it", which runs a version on a request you describe.
Versions have no admin of their own: they are immutable parts of a module, so they are
shown, activated and deleted (never the active one) from the module's page only. Every
write goes through `save()`/`delete()` per object, so other processes pick it up, and is
recorded in the admin history. Plain model permissions apply everywhere; "Try it" also
needs `wasmhooks.try_wasmmodule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, F, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from wasmhooks.runtime import ModuleInvalid

from . import tryit, uploads
from .forms import UPLOAD_FIELD, ModuleAddForm, ModuleChangeForm, TryForm, no_active_version_message
from .models import HookBinding, WasmModule, WasmModuleVersion
from .uploads import UploadResult

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

    _ModuleAdmin = admin.ModelAdmin[WasmModule]
    _BindingAdmin = admin.ModelAdmin[HookBinding]
    _VersionInline = admin.TabularInline[WasmModuleVersion, WasmModule]
    _BindingInline = admin.TabularInline[HookBinding, WasmModule]
    _VersionFormSet = BaseInlineFormSet[WasmModuleVersion, WasmModule, forms.ModelForm[WasmModuleVersion]]
else:
    _ModuleAdmin = _BindingAdmin = admin.ModelAdmin
    _VersionInline = _BindingInline = admin.TabularInline
    _VersionFormSet = BaseInlineFormSet

TRY_PERMISSION = "wasmhooks.try_wasmmodule"


def has_model_permission(request: HttpRequest, action: str, model: type[models.Model]) -> bool:
    """Whether the user holds the `action` ("change", "view"...) permission on `model`."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


class VersionFormSet(_VersionFormSet):
    """The versions inline: the only change it allows is deleting versions that are not active.

    Versions cannot be deleted in the save that uploads one: an upload identical to a stored
    version reuses (and may activate) that version, which the deletion would then remove.
    The active version is checked again when it comes to deleting, under the module's row
    lock: one found active then is kept (listed in `kept_active`), not deleted.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept_active: list[WasmModuleVersion] = []

    def clean(self) -> None:
        """Raise `ValidationError` when versions are to be deleted along with an upload, or the
        active version is among them."""
        super().clean()
        self.refuse_deleting_with_upload()
        for form in self.deleted_forms:
            version = form.instance
            if version.pk is not None and version.pk == self.instance.active_version_id:
                raise ValidationError(
                    "Version %(number)d is the active version and cannot be deleted. "
                    "Activate another version first.",
                    code="active_version",
                    params={"number": version.number},
                )

    def refuse_deleting_with_upload(self) -> None:
        """Raise `ValidationError` if versions are to be deleted and the module form carries a file."""
        if self.deleted_forms and self.files.get(UPLOAD_FIELD):
            raise ValidationError(
                "Upload a new version or delete versions, not both in one save: an identical file "
                "would reuse, and may activate, a version you are deleting.",
                code="delete_with_upload",
            )

    def delete_existing(self, obj: WasmModuleVersion, commit: bool = True) -> None:
        """Delete `obj`, unless it is its module's active version by now (under the row lock)."""
        active_id = (
            WasmModule.objects.select_for_update()
            .filter(pk=obj.module_id)
            .values_list("active_version_id", flat=True)
            .get()
        )
        if active_id == obj.pk:
            self.deleted_objects.remove(obj)
            self.kept_active.append(obj)
            return
        super().delete_existing(obj, commit)


class VersionInline(_VersionInline):
    """A module's versions, read-only, newest first, each with an Activate button."""

    model = WasmModuleVersion
    formset = VersionFormSet
    extra = 0
    fields = (
        "number",
        "active",
        "size_display",
        "sha256_hex",
        "abi",
        "entry_point_list",
        "export_list",
        "import_list",
        "uploaded_by",
        "uploaded_at",
        "activate_button",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WasmModuleVersion]:
        return super().get_queryset(request).select_related("module", "uploaded_by").defer("binary")

    def get_fields(self, request: HttpRequest, obj: models.Model | None = None) -> tuple[str, ...]:
        """The columns; without the Activate buttons for a user who may not change modules."""
        if has_model_permission(request, "change", WasmModule):
            return self.fields
        return tuple(name for name in self.fields if name != "activate_button")

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    @admin.display(description="active", boolean=True)
    def active(self, version: WasmModuleVersion) -> bool:
        return version.is_active

    @admin.display(description="size")
    def size_display(self, version: WasmModuleVersion) -> str:
        return f"{filesizeformat(version.size)} ({version.size} bytes)"

    @admin.display(description="SHA-256")
    def sha256_hex(self, version: WasmModuleVersion) -> str:
        return version.sha256

    @admin.display(description="entry points")
    def entry_point_list(self, version: WasmModuleVersion) -> str:
        return ", ".join(version.entry_points)

    @admin.display(description="exports")
    def export_list(self, version: WasmModuleVersion) -> str:
        return ", ".join(version.exports)

    @admin.display(description="imports")
    def import_list(self, version: WasmModuleVersion) -> str:
        return ", ".join(version.imports)

    @admin.display(description="")
    def activate_button(self, version: WasmModuleVersion) -> SafeString | str:
        """A button posting the change form to the activate view; nothing for the active version."""
        if version.is_active:
            return ""
        url = reverse(
            f"{self.admin_site.name}:wasmhooks_wasmmodule_activate",
            args=[quote(version.module_id), version.pk],
            current_app=self.admin_site.name,
        )
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>'
            "Activate version {}</button>",
            url,
            version.number,
        )


class BindingInline(_BindingInline):
    """A module's bindings, edited on its page; each also has a page of its own."""

    model = HookBinding
    extra = 1
    show_change_link = True
    fields = (
        "pattern",
        "methods",
        "order",
        "enabled",
        "timeout_ms",
        "memory_mb",
        "fuel",
        "on_error",
        "isolate",
        "config",
    )
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 30})}}


@admin.register(WasmModule)
class WasmModuleAdmin(_ModuleAdmin):
    """Modules: add with a first upload, upload new versions, activate, roll back, try."""

    list_display = ("name", "active_version_number", "version_count", "binding_count", "updated_at")
    search_fields = ("name",)

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path(
                "<path:object_id>/versions/<int:version_id>/activate/",
                self.admin_site.admin_view(require_POST(self.activate_view)),
                name=f"{info}_activate",
            ),
            path("<path:object_id>/try/", self.admin_site.admin_view(self.try_view), name=f"{info}_try"),
        ]
        return [*custom, *super().get_urls()]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WasmModule]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_number=F("active_version__number"),
                version_count=Count("versions", distinct=True),
                binding_count=Count("bindings", distinct=True),
            )
        )

    @admin.display(description="active version", ordering="active_number")
    def active_version_number(self, module: WasmModule) -> str | None:
        number = getattr(module, "active_number", None)
        return None if number is None else f"version {number}"

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, module: WasmModule) -> int:
        count: int = getattr(module, "version_count", 0)
        return count

    @admin.display(description="bindings", ordering="binding_count")
    def binding_count(self, module: WasmModule) -> SafeString:
        url = reverse(
            f"{self.admin_site.name}:wasmhooks_hookbinding_changelist", current_app=self.admin_site.name
        )
        return format_html(
            '<a href="{}?module__id__exact={}">{}</a>', url, module.pk, getattr(module, "binding_count", 0)
        )

    def get_form(
        self, request: HttpRequest, obj: WasmModule | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[WasmModule]]:
        kwargs["form"] = ModuleAddForm if obj is None else ModuleChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: WasmModule | None = None) -> _FieldsetSpec:
        """Add: name, description and the file. Change: the upload section only for who may change."""
        if obj is None:
            return [(None, {"fields": ["name", "description", "wasm_file"]})]
        fieldsets: _FieldsetSpec = [(None, {"fields": ["name", "description", "active_version"]})]
        if self.has_change_permission(request, obj):
            fieldsets = [*fieldsets, ("Upload a new version", {"fields": ["wasm_file", "activate"]})]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: WasmModule | None = None) -> tuple[str, ...]:
        return () if obj is None else ("name",)

    def get_inlines(
        self, request: HttpRequest, obj: WasmModule | None
    ) -> list[type[admin.options.InlineModelAdmin[Any, Any]]]:
        """Bindings, and once the module exists its versions."""
        return [BindingInline] if obj is None else [VersionInline, BindingInline]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_try": request.user.has_perm(TRY_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: WasmModule, form: Any, change: bool) -> None:
        """Save the module, then store the uploaded file (if any) with `uploads.store_upload`."""
        obj.save()
        if change and "active_version" in form.changed_data and obj.active_version is not None:
            self.message_user(request, f"Version {obj.active_version.number} of “{obj}” is now active.")
        if form.wasm is None:
            return
        activate = not change or form.cleaned_data["activate"]
        result = uploads.store_upload(
            obj.name, form.wasm, user=request.user, activate=activate, report=form.report
        )
        if result.activated:
            obj.active_version = result.version
        form.upload_result = result
        self.message_user(request, *upload_message(result))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save the inlines; then, if the active version was cleared, say what that does to the
        requests the module's bindings (as saved now) match."""
        super().save_related(request, form, formsets, change)
        module: WasmModule = form.instance
        if change and "active_version" in form.changed_data and module.active_version_id is None:
            self.message_user(request, no_active_version_message(module), messages.WARNING)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Save the inline; warn about any version kept because it was active when deleted."""
        super().save_formset(request, form, formset, change)
        for version in formset.kept_active if isinstance(formset, VersionFormSet) else ():
            self.message_user(
                request,
                f"Version {version.number} of “{form.instance}” was not deleted: it is the active version.",
                messages.WARNING,
            )

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        """Django's message, plus the version an upload added and, on change, its activation."""
        message: list[dict[str, Any]] = super().construct_change_message(request, form, formsets, add)
        result: UploadResult | None = getattr(form, "upload_result", None)
        if result is not None:
            if result.version_created:
                name = str(WasmModuleVersion._meta.verbose_name)
                message.append({"added": {"name": name, "object": str(result.version)}})
            if result.activated and not add:
                label = str(form.fields["active_version"].label)
                message.append({"changed": {"fields": [label]}})
        return message

    def get_deleted_objects(
        self, objs: Sequence[WasmModule] | QuerySet[WasmModule], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        """Django's summary of a deletion, which also needs `delete_wasmmoduleversion` when it
        takes versions along (Django asks only for models with an admin of their own), as the API.
        """
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        opts = WasmModuleVersion._meta
        if opts.verbose_name_plural in counts and not has_model_permission(
            request, "delete", WasmModuleVersion
        ):
            perms_needed.add(str(opts.verbose_name))
        return deleted, counts, perms_needed, protected

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WasmModule]) -> None:
        """Delete one module at a time, through `delete()`."""
        with transaction.atomic():
            for module in queryset:
                module.delete()

    @transaction.atomic
    def activate_view(self, request: HttpRequest, object_id: str, version_id: int) -> HttpResponse:
        """Make one of the module's versions the active one, log it and say so (POST only).

        Raises `PermissionDenied` without change permission on modules, and `Http404` for an
        unknown module or a version of another module.
        """
        module = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, module):
            raise PermissionDenied
        if module is None:
            raise Http404("No such module.")
        version = get_object_or_404(WasmModuleVersion.objects.defer("binary"), module=module, pk=version_id)
        if uploads.activate(version):
            self.log_change(request, module, f"Activated version {version.number}.")
            self.message_user(request, f"Version {version.number} of “{module}” is now active.")
        else:
            self.message_user(
                request, f"Version {version.number} of “{module}” was already active.", messages.WARNING
            )
        return HttpResponseRedirect(self.change_url(module))

    def try_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Run a version of the module on a request described in a form, and show what it did.

        Needs `wasmhooks.try_wasmmodule` and view (or change) permission on modules; raises
        `PermissionDenied` without them, and `Http404` for an unknown module.
        """
        module = self.get_object(request, unquote(object_id))
        if not (
            self.has_view_or_change_permission(request, module) and request.user.has_perm(TRY_PERMISSION)
        ):
            raise PermissionDenied
        if module is None:
            raise Http404("No such module.")
        request.current_app = self.admin_site.name
        form = TryForm(module, request.POST) if request.method == "POST" else TryForm(module)
        result = None
        if form.is_valid():
            result = run_trial(form)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try “{module}”",
            "opts": self.opts,
            "original": module,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/wasmhooks/wasmmodule/try.html", context)

    def change_url(self, module: WasmModule) -> str:
        return reverse(
            f"{self.admin_site.name}:wasmhooks_wasmmodule_change",
            args=[quote(module.pk)],
            current_app=self.admin_site.name,
        )


def upload_message(result: UploadResult) -> tuple[str, int]:
    """What to tell the admin about an upload, and at what message level."""
    number = result.version.number
    if result.version_created:
        size = filesizeformat(result.version.size)
        if result.activated:
            return f"Stored version {number} ({size}) and made it active.", messages.SUCCESS
        return f"Stored version {number} ({size}); it is not active.", messages.SUCCESS
    identical = f"The file is identical to version {number}, already stored: no new version was made."
    if result.activated:
        return f"{identical} Version {number} is now active.", messages.WARNING
    return identical, messages.WARNING


def run_trial(form: TryForm) -> dict[str, Any] | None:
    """Run the trial `form` describes; its result as the template shows it.

    Returns None, with an error on the form, when the version does not load.
    """
    data = form.cleaned_data
    version: WasmModuleVersion = data["version"]
    try:
        loaded = tryit.load_version(version)
    except ModuleInvalid as exc:
        form.add_error("version", f"Version {version.number} does not load: {exc.message}")
        return None
    result = tryit.try_module(
        loaded,
        method=data["method"],
        path=data["path"],
        headers=data["headers"],
        body=data["body"].encode("utf-8"),
        config=data["config"],
        limits=tryit.default_limits(data["timeout_ms"]),
    )
    shown = result.as_dict()
    shown["version"] = version
    shown["reason"] = _reason(result.status)
    shown["body_size"] = len(result.body)
    return shown


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@admin.register(HookBinding)
class HookBindingAdmin(_BindingAdmin):
    """Bindings on their own pages, with bulk enable and disable."""

    list_display = ("pattern", "module", "method_display", "order", "enabled", "timeout_ms", "on_error")
    list_filter = ("module", "enabled")
    list_select_related = ("module",)
    search_fields = ("pattern", "module__name", "note")
    actions = ("enable_bindings", "disable_bindings")
    fieldsets = [
        (None, {"fields": ["module", "pattern", "methods", "order", "enabled"]}),
        ("Limits and failures", {"fields": ["timeout_ms", "memory_mb", "fuel", "on_error", "isolate"]}),
        (None, {"fields": ["config", "note"]}),
    ]

    @admin.display(description="methods", ordering="methods")
    def method_display(self, binding: HookBinding) -> str:
        return binding.methods or "all"

    @admin.action(description="Enable selected bindings", permissions=["change"])
    def enable_bindings(self, request: HttpRequest, queryset: QuerySet[HookBinding]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected bindings", permissions=["change"])
    def disable_bindings(self, request: HttpRequest, queryset: QuerySet[HookBinding]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[HookBinding], *, enabled: bool) -> None:
        """Save each binding whose `enabled` differs, log it, and tell the user how many changed."""
        changed = 0
        with transaction.atomic():
            for binding in queryset.select_related("module"):
                if binding.enabled == enabled:
                    continue
                binding.enabled = enabled
                binding.save(update_fields=["enabled", "updated_at"])
                self.log_change(request, binding, [{"changed": {"fields": ["Enabled"]}}])
                changed += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, ngettext("%s %d binding.", "%s %d bindings.", changed) % (verb, changed))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[HookBinding]) -> None:
        """Delete one binding at a time, through `delete()`."""
        with transaction.atomic():
            for binding in queryset:
                binding.delete()
