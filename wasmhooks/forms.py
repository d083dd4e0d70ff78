"""The admin's forms: a module with its first upload, a new version, and a request to try.

An uploaded file is read and checked with `uploads.check_module` while the form is cleaned,
so a bad file is a form error and nothing is written. The admin then stores the bytes the
form kept (`wasm`) through `uploads.store_upload`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.timezone import localtime
from django.utils.translation import ngettext

from . import tryit, uploads
from .models import WasmModule, WasmModuleVersion

if TYPE_CHECKING:
    _ModuleForm = forms.ModelForm[WasmModule]
    _VersionField = forms.ModelChoiceField[WasmModuleVersion]
else:
    _ModuleForm = forms.ModelForm
    _VersionField = forms.ModelChoiceField

WASM_FILE_WIDGET = forms.FileInput(attrs={"accept": ".wasm,application/wasm"})
# The file field of the add and change forms, and the fields of the change form that upload a
# version rather than change the module itself.
UPLOAD_FIELD = "wasm_file"
UPLOAD_FIELDS = (UPLOAD_FIELD, "activate")


def read_module_file(upload: UploadedFile) -> tuple[bytes, uploads.ModuleReport]:
    """The bytes of an uploaded module file and what `uploads.check_module` found in them.

    Raises `ValidationError`: code `too_large` before reading a file over
    `WASMHOOKS_MAX_MODULE_BYTES`, or any code of `check_module`.
    """
    uploads.check_size(upload.size or 0)
    wasm: bytes = upload.read()
    return wasm, uploads.check_module(wasm)


def no_active_version_message(module: WasmModule) -> str:
    """What becomes of the requests `module` is bound to while it has no active version.

    Its enabled bindings fail (logged and counted as `not_found`), and under `on_error="block"`,
    the default, matching requests are answered 503: closed on purpose, so that deactivating,
    say, an authentication hook does not open the paths it guards.
    """
    head = f"No version of “{module.name}” is active"
    enabled = module.bindings.filter(enabled=True)
    total = enabled.count()
    if total == 0:
        return (
            f"{head}. It has no enabled binding; requests matching one enabled later will be "
            "answered 503 (on_error=block) until you activate a version."
        )
    blocking = enabled.filter(on_error="block").count()
    bindings = f"{total} enabled {ngettext('binding', 'bindings', total)}"
    them = ngettext("it", "them", total)
    if blocking == total:
        return (
            f"{head}: requests matching its {bindings} are answered 503 (on_error=block) "
            f"until you activate one or disable {them}."
        )
    if blocking == 0:
        return (
            f"{head}: requests matching its {bindings} go on without the hook (on_error=continue), "
            f"each failure logged and counted as not_found, until you activate one or disable {them}."
        )
    return (
        f"{head}: requests matching its {bindings} fail until you activate one or disable them; "
        f"under on_error=block ({blocking} of them) they are answered 503, under on_error=continue "
        f"({total - blocking}) they go on without the hook."
    )


def module_versions(module: WasmModule) -> QuerySet[WasmModuleVersion]:
    """`module`'s versions, newest first, without their binaries."""
    return WasmModuleVersion.objects.filter(module=module).defer("binary").order_by("-number")


class VersionChoiceField(_VersionField):
    """A choice among one module's versions, each labelled with its size, hash and date."""

    def label_from_instance(self, obj: WasmModuleVersion) -> str:
        uploaded = localtime(obj.uploaded_at).strftime("%Y-%m-%d %H:%M")
        return f"version {obj.number} ({obj.size} bytes, sha256 {obj.sha256[:12]}, uploaded {uploaded})"


class ModuleAddForm(_ModuleForm):
    """A new module: its name, description and first `.wasm` file, which becomes active."""

    wasm_file = forms.FileField(
        label="Module file",
        widget=WASM_FILE_WIDGET,
        help_text="The compiled .wasm binary. It is compiled and checked before anything is stored.",
    )

    class Meta:
        model = WasmModule
        fields = ["name", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wasm: bytes | None = None
        self.report: uploads.ModuleReport | None = None

    def clean_name(self) -> str:
        """The name, unless `uploads.check_name` refuses it (a module in settings has it, say)."""
        name: str = self.cleaned_data["name"]
        uploads.check_name(name, new=True)
        return name

    def clean_wasm_file(self) -> UploadedFile:
        """The upload, after its bytes passed `read_module_file` (kept in `wasm`)."""
        upload: UploadedFile = self.cleaned_data["wasm_file"]
        self.wasm, self.report = read_module_file(upload)
        return upload


class ModuleChangeForm(_ModuleForm):
    """An existing module: its description, the version in force, and optionally a new version.

    `changed_data` leaves out the upload fields: a new version is reported on its own.
    """

    active_version = VersionChoiceField(
        queryset=WasmModuleVersion.objects.none(),
        required=False,
        label="Active version",
        help_text=(
            "The version that runs. Pick an earlier one to roll back. Blank: requests matching the "
            "module's enabled bindings are answered 503 (on_error=block; with on_error=continue they "
            "go on without it) until a version is active or the bindings are disabled."
        ),
    )
    wasm_file = forms.FileField(
        label="New version",
        required=False,
        widget=WASM_FILE_WIDGET,
        help_text="A .wasm file to store as the next version. Identical bytes reuse the version stored.",
    )
    activate = forms.BooleanField(label="Make it the active version", required=False, initial=True)

    class Meta:
        model = WasmModule
        fields = ["description", "active_version"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wasm: bytes | None = None
        self.report: uploads.ModuleReport | None = None
        field = self.fields["active_version"]
        assert isinstance(field, VersionChoiceField)
        field.queryset = module_versions(self.instance)

    @cached_property
    def changed_data(self) -> list[str]:
        return [name for name in super().changed_data if name not in UPLOAD_FIELDS]

    def clean_wasm_file(self) -> UploadedFile | None:
        """The upload if any, after its bytes passed `read_module_file` (kept in `wasm`)."""
        upload: UploadedFile | None = self.cleaned_data["wasm_file"]
        if upload is not None:
            self.wasm, self.report = read_module_file(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        """Refuse a version picked and a new one uploaded to be active at once."""
        cleaned = super().clean()
        assert cleaned is not None
        if self.wasm is not None and cleaned.get("activate") and "active_version" in self.changed_data:
            raise ValidationError(
                "Either pick the active version or upload a new one to activate, not both.",
                code="two_activations",
            )
        return cleaned


class TryForm(forms.Form):
    """A request to run one of `module`'s versions on, as `tryit.try_module` takes it."""

    version = VersionChoiceField(
        queryset=WasmModuleVersion.objects.none(), help_text="Default: the active one."
    )
    method = forms.CharField(
        initial="GET",
        max_length=16,
        validators=[RegexValidator(r"^[A-Za-z]+$", "Enter an HTTP method such as GET or POST.")],
    )
    path = forms.CharField(
        initial="/", max_length=2000, help_text="May carry a query string, e.g. /search?q=wasm."
    )
    headers = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One header per line, written Name: value.",
    )
    body = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4}))
    config = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the guest reads with config(), as a binding's config.",
    )
    timeout_ms = forms.FloatField(
        label="Timeout (ms)",
        required=False,
        max_value=tryit.MAX_TIMEOUT_MS,
        help_text="Blank: WASMHOOKS_TIMEOUT_MS. The trial runs inside this request, so keep it short.",
    )

    def __init__(self, module: WasmModule, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        assert isinstance(field, VersionChoiceField)
        field.queryset = module_versions(module)
        field.initial = module.active_version_id

    def clean_method(self) -> str:
        method: str = self.cleaned_data["method"]
        return method.upper()

    def clean_path(self) -> str:
        """The path, which must start with '/'."""
        path: str = self.cleaned_data["path"]
        if not path.startswith("/"):
            raise ValidationError("The path must start with '/'.", code="path")
        return path

    def clean_headers(self) -> list[tuple[str, str]]:
        """The headers as pairs, parsed by `tryit.parse_header_lines`; blank lines are skipped."""
        text: str = self.cleaned_data["headers"]
        try:
            return tryit.parse_header_lines([line for line in text.splitlines() if line.strip()])
        except ValueError as exc:
            raise ValidationError(str(exc), code="header") from None

    def clean_timeout_ms(self) -> float | None:
        """The timeout if given, which must be positive."""
        timeout: float | None = self.cleaned_data["timeout_ms"]
        if timeout is not None and timeout <= 0:
            raise ValidationError("Enter a positive number of milliseconds.", code="timeout")
        return timeout
