"""How modules, versions, bindings and trials look in the API, and how their input is checked.

Uploads are checked in two steps: the serializers here check the form (a name, a file no
larger than `WASMHOOKS_MAX_MODULE_BYTES`), then `uploads.store_upload` checks the module
itself. Bindings are checked by `HookBinding.clean()`, the same rules as the admin's.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request

from wasmhooks import uploads
from wasmhooks.models import HookBinding, WasmModule, WasmModuleVersion
from wasmhooks.tryit import MAX_TIMEOUT_MS, parse_header_lines

from .exceptions import upload_error

API = "wasmhooks-api"
HTTP_METHOD = re.compile(r"^[A-Za-z]+$")
HEADER_NAME = re.compile(r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$")
FORBIDDEN_IN_HEADER_VALUE = re.compile(r"[\r\n\0]")
PATH_ILLEGAL = re.compile(r"[\s\0]")


def wasm_file_field() -> serializers.FileField:
    """A field for an uploaded `.wasm` file; an empty one passes, for `uploads.check_module` to explain."""
    return serializers.FileField(
        allow_empty_file=True, help_text="The WebAssembly binary (.wasm), sent as multipart/form-data."
    )


class WasmFileMixin:
    """Reads the uploaded `file` into bytes, after a look at its size."""

    def validate_file(self, upload: UploadedFile) -> bytes:
        """The file's bytes. Raises `ModuleTooLarge`, without reading it, if it is over the limit."""
        try:
            uploads.check_size(upload.size or 0)
        except DjangoValidationError as exc:
            raise upload_error(exc) from None
        return bytes(upload.read())


class OmittedMeansDefault(serializers.BooleanField):
    """A boolean that takes its default when a form leaves it out (DRF's own field reads False)."""

    default_empty_html = empty


class VersionHyperlink(serializers.HyperlinkedIdentityField):
    """A link to a view of one module version, whose URL names the module and the number."""

    def get_url(self, obj: Any, view_name: str, request: Request, format: str | None) -> str:
        kwargs = {"module_name": obj.module.name, "number": obj.number}
        return str(self.reverse(view_name, kwargs=kwargs, request=request, format=format))


class WasmModuleVersionSummarySerializer(serializers.ModelSerializer[WasmModuleVersion]):
    """The essentials of a version, as embedded in its module."""

    url = VersionHyperlink(view_name=f"{API}:version-detail")
    entry_points = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The hooks it exports: on_request, on_response.",
    )

    class Meta:
        model = WasmModuleVersion
        fields = ["number", "url", "sha256", "size", "abi", "entry_points", "uploaded_at"]
        read_only_fields = fields


class WasmModuleVersionSerializer(WasmModuleVersionSummarySerializer):
    """One stored version of a module: what it is, who uploaded it, whether it is the one in force."""

    activate_url = VersionHyperlink(view_name=f"{API}:version-activate")
    uploaded_by = serializers.CharField(
        source="uploaded_by.username", read_only=True, allow_null=True, help_text="Username of the uploader."
    )
    active = serializers.BooleanField(source="is_active", read_only=True, help_text="The version that runs.")
    exports = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Every exported function."
    )
    imports = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Every imported function, as module.name."
    )

    class Meta(WasmModuleVersionSummarySerializer.Meta):
        fields = [
            *WasmModuleVersionSummarySerializer.Meta.fields,
            "activate_url",
            "exports",
            "imports",
            "uploaded_by",
            "active",
        ]
        read_only_fields = fields


class WasmModuleSerializer(serializers.ModelSerializer[WasmModule]):
    """A module, with its version in force (null before any) and links to its other endpoints."""

    url = serializers.HyperlinkedIdentityField(view_name=f"{API}:module-detail", lookup_field="name")
    versions_url = serializers.HyperlinkedIdentityField(
        view_name=f"{API}:version-list", lookup_field="name", lookup_url_kwarg="module_name"
    )
    try_url = serializers.HyperlinkedIdentityField(view_name=f"{API}:module-try", lookup_field="name")
    active_version = WasmModuleVersionSummarySerializer(read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True, help_text="How many versions are stored.")

    class Meta:
        model = WasmModule
        fields = [
            "name",
            "url",
            "description",
            "active_version",
            "version_count",
            "versions_url",
            "try_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WasmModuleUploadSerializer(WasmFileMixin, serializers.Serializer[None]):
    """A new module: its name, an optional description and its first version's file."""

    name = serializers.CharField(help_text="1 to 64 letters, digits, '-' and '_'.", trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    file = wasm_file_field()

    def validate_name(self, value: str) -> str:
        """Raise a `ValidationError` unless `value` is free to name a new module."""
        uploads.check_name(value)  # DRF reports its ValidationError on this field
        if WasmModule.objects.filter(name=value).exists():
            raise serializers.ValidationError(
                f"A module named {value!r} already exists: upload new versions to its versions endpoint.",
                code="exists",
            )
        return value


class WasmModuleVersionUploadSerializer(WasmFileMixin, serializers.Serializer[None]):
    """A new version of a module, and whether it becomes the one in force."""

    file = wasm_file_field()
    activate = OmittedMeansDefault(default=True, help_text="Make it the version that runs (default true).")


class HookBindingSerializer(serializers.ModelSerializer[HookBinding]):
    """A binding, checked by `HookBinding.clean()` like a settings binding; the module goes by name."""

    url = serializers.HyperlinkedIdentityField(view_name=f"{API}:binding-detail")
    module = serializers.SlugRelatedField(slug_field="name", queryset=WasmModule.objects.all())

    class Meta:
        model = HookBinding
        fields = [
            "id",
            "url",
            "module",
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
            "note",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"config": {"trim_whitespace": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Check the binding as it would be saved. Raises `ValidationError` keyed by field."""
        binding = copy.copy(self.instance) if isinstance(self.instance, HookBinding) else HookBinding()
        for key, value in attrs.items():
            setattr(binding, key, value)
        try:
            binding.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return {**attrs, "methods": binding.methods}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "object", "additionalProperties": {"type": "string"}},
            {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                        {"type": "string", "description": "Name: value"},
                    ]
                },
            },
        ]
    }
)
class HeadersField(serializers.Field):  # type: ignore[type-arg]
    """Request headers as `{"Name": "value"}` or a list of `["Name", "value"]` or `"Name: value"`."""

    default_error_messages = {
        "invalid": 'Give headers as {{"Name": "value"}} or a list of ["Name", "value"] or "Name: value".',
        "name": "{name!r} is not a header name.",
        "value": "The value of {name} must not contain a line break or NUL.",
    }

    def to_internal_value(self, data: Any) -> list[tuple[str, str]]:
        """The headers as pairs. Raises `ValidationError` for any other shape, a bad name or value."""
        if isinstance(data, dict):
            pairs = list(data.items())
        elif isinstance(data, list):
            pairs = [self._pair(item) for item in data]
        else:
            self.fail("invalid")
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                self.fail("invalid")
            if not HEADER_NAME.match(name):
                self.fail("name", name=name)
            if FORBIDDEN_IN_HEADER_VALUE.search(value):
                self.fail("value", name=name)
        return pairs

    def _pair(self, item: Any) -> tuple[Any, Any]:
        """One header of a list. Raises `ValidationError` for an item of another shape."""
        if isinstance(item, str):
            try:
                return parse_header_lines([item])[0]
            except ValueError as exc:
                raise serializers.ValidationError(str(exc), code="invalid") from None
        if isinstance(item, list) and len(item) == 2:
            return item[0], item[1]
        self.fail("invalid")


class ModuleTrySerializer(serializers.Serializer[None]):
    """A made-up request to run a module's hooks on, and the limits of the trial."""

    method = serializers.CharField(default="GET", max_length=32)
    path = serializers.CharField(default="/", help_text="Starts with '/'; may carry a query string.")
    headers = HeadersField(default=list)
    body = serializers.CharField(default="", allow_blank=True, trim_whitespace=False, help_text="As text.")
    body_base64 = serializers.CharField(
        required=False, allow_blank=True, help_text="The body as base64, for bytes that are not text."
    )
    version = serializers.IntegerField(required=False, min_value=1, help_text="Default: the active version.")
    timeout_ms = serializers.FloatField(
        required=False, help_text=f"Default: WASMHOOKS_TIMEOUT_MS; at most {MAX_TIMEOUT_MS:g}."
    )
    config = serializers.CharField(
        default="", allow_blank=True, trim_whitespace=False, help_text="What the guest's config() reads."
    )

    def validate_method(self, value: str) -> str:
        """The method in capitals. Raises `ValidationError` unless it is letters only."""
        if not HTTP_METHOD.match(value):
            raise serializers.ValidationError(f"{value!r} is not an HTTP method.")
        return value.upper()

    def validate_path(self, value: str) -> str:
        """Raise `ValidationError` unless `value` starts with '/' and holds no whitespace."""
        if not value.startswith("/") or PATH_ILLEGAL.search(value):
            raise serializers.ValidationError("The path must start with '/' and hold no whitespace.")
        return value

    def validate_timeout_ms(self, value: float) -> float:
        """Raise `ValidationError` unless 0 < `value` <= `MAX_TIMEOUT_MS`."""
        if not 0 < value <= MAX_TIMEOUT_MS:
            raise serializers.ValidationError(
                f"Give a number of milliseconds over 0, at most {MAX_TIMEOUT_MS:g}."
            )
        return value

    def validate_body_base64(self, value: str) -> bytes:
        """The decoded bytes. Raises `ValidationError` for text that is not base64."""
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise serializers.ValidationError("This is not valid base64.") from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Settle the body as bytes. Raises `ValidationError` if both `body` and `body_base64` are given."""
        raw = attrs.pop("body_base64", None)
        if raw is not None and attrs["body"]:
            raise serializers.ValidationError({"body_base64": ["Give body or body_base64, not both."]})
        attrs["body"] = raw if raw is not None else attrs["body"].encode("utf-8")
        return attrs


class TryLogSerializer(serializers.Serializer[dict[str, str]]):
    """A line the guest logged during the trial."""

    level = serializers.CharField()
    message = serializers.CharField()


class TryFailureSerializer(serializers.Serializer[dict[str, str]]):
    """A failure of the guest during the trial: where, what kind, and the message."""

    phase = serializers.CharField(help_text="on_request or on_response.")
    kind = serializers.CharField(help_text="timeout, trap, memory, abi...")
    message = serializers.CharField()


class ModuleTryResultSerializer(serializers.Serializer[dict[str, Any]]):
    """What a trial produced: the response, the guest's log lines, and any failures."""

    version = serializers.IntegerField(help_text="The version tried.")
    status = serializers.IntegerField()
    headers = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2)
    )
    body = serializers.CharField(required=False, help_text="The response body, when it is UTF-8.")
    body_base64 = serializers.CharField(required=False, help_text="The response body otherwise.")
    answered_by_hook = serializers.BooleanField(help_text="on_request answered itself.")
    elapsed_ms = serializers.FloatField()
    logs = TryLogSerializer(many=True)
    failures = TryFailureSerializer(many=True)
    request_headers = serializers.DictField(
        child=serializers.CharField(), help_text="The request's headers as the hooks left them."
    )
    # DRF takes declared fields off the class, so this does not hide `Serializer.context`.
    context = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="The request context the hooks set."
    )
