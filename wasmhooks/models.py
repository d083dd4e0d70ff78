"""Modules and bindings stored in the database, so an admin can change them while the site runs.

Every upload is an immutable `WasmModuleVersion`; a `WasmModule` points at the one in force.
A `HookBinding` has the meaning of a `WASMHOOKS_BINDINGS` entry and is validated by the same
`routing.parse_binding`. Any save or delete bumps `HooksRevision`, which every process polls
(see `snapshot.py`) to pick the change up without a restart. Change rows through `save()` and
`delete()`: `QuerySet.update()` sends no signal, so other processes would not notice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from .routing import MODULE_NAME, ON_ERROR_CHOICES, Binding, BindingError, parse_binding

module_name_validator = RegexValidator(
    MODULE_NAME, "Enter a name of up to 64 letters, digits, hyphens and underscores."
)


UNSAVED_MODULE = "unsaved-module"


class WasmModule(models.Model):
    """A named hook module; `active_version` is the one that runs (None: not runnable yet)."""

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[module_name_validator],
        help_text="How bindings and wasmhooks.call() refer to it: letters, digits, '-' and '_'.",
    )
    description = models.TextField(blank=True)
    active_version = models.ForeignKey(
        "WasmModuleVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version that runs. Pick an earlier one to roll back.",
    )
    versions_created = models.PositiveIntegerField(
        default=0, editable=False, help_text="Versions ever stored, so a number is never used twice."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "WebAssembly module"
        permissions = [("try_wasmmodule", "Can run a module's hooks on a made-up request")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        version = self.active_version if self.active_version_id is not None else None
        if version is not None and version.module_id != self.pk:
            raise ValidationError({"active_version": "That version belongs to another module."})


class WasmModuleVersion(models.Model):
    """One uploaded binary of a module, never changed once stored."""

    module = models.ForeignKey(WasmModule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(editable=False)
    binary = models.BinaryField()
    sha256 = models.CharField(max_length=64, editable=False)
    size = models.PositiveIntegerField(editable=False)
    abi = models.CharField("ABI", max_length=16, editable=False)
    entry_points = models.JSONField(default=list, editable=False)
    exports = models.JSONField(default=list, editable=False, help_text="Every exported function.")
    imports = models.JSONField(default=list, editable=False, help_text="Every imported function.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["module", "-number"]
        verbose_name = "module version"
        constraints = [
            models.UniqueConstraint(fields=["module", "number"], name="wasmhooks_version_number_unique"),
            models.UniqueConstraint(fields=["module", "sha256"], name="wasmhooks_version_sha256_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Store a new version. Raises `ValueError` for an existing one: versions are immutable."""
        if self.pk is not None and not self._state.adding:
            raise ValueError("a module version is immutable; upload a new one instead")
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.module.active_version_id == self.pk


class HookBinding(models.Model):
    """A module bound to requests: the database twin of a `WASMHOOKS_BINDINGS` entry."""

    module = models.ForeignKey(WasmModule, on_delete=models.CASCADE, related_name="bindings")
    pattern = models.CharField(
        max_length=500, help_text="A regular expression searched in the request path, e.g. ^/api/."
    )
    methods = models.CharField(
        max_length=200,
        blank=True,
        help_text="HTTP methods separated by commas, e.g. GET, POST. Blank for every method.",
    )
    order = models.IntegerField(default=0, help_text="Lower runs first.")
    enabled = models.BooleanField(default=True)
    timeout_ms = models.FloatField(
        "timeout (ms)", null=True, blank=True, help_text="Blank: WASMHOOKS_TIMEOUT_MS."
    )
    memory_mb = models.FloatField(
        "memory (MiB)", null=True, blank=True, help_text="Blank: WASMHOOKS_MEMORY_MB."
    )
    fuel = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Instruction budget per call. Blank: WASMHOOKS_FUEL."
    )
    on_error = models.CharField(
        max_length=8,
        choices=[(choice, choice) for choice in ON_ERROR_CHOICES],
        default="block",
        help_text="block: answer 503 when the hook fails; continue: skip it.",
    )
    isolate = models.BooleanField(default=False, help_text="A fresh instance for every call.")
    config = models.TextField(blank=True, help_text="Passed to the guest as is; JSON is fine.")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = "hook binding"

    def __str__(self) -> str:
        module = self.module.name if self.module_id is not None else "?"
        return f"{module} on {self.pattern}"

    @property
    def label(self) -> str:
        """The name this binding goes by in logs and failure reports."""
        return f"db:{self.pk}"

    def method_list(self) -> list[str]:
        return [m.strip().upper() for m in self.methods.split(",") if m.strip()]

    def as_settings_dict(self) -> dict[str, Any]:
        """This binding as a `WASMHOOKS_BINDINGS` entry; unset limits are left to the settings."""
        raw: dict[str, Any] = {
            # A binding made inline with its module is checked before the module is saved.
            "module": self.module.name if self.module_id is not None else UNSAVED_MODULE,
            "pattern": self.pattern,
            "order": self.order,
            "on_error": self.on_error,
            "config": self.config,
            "isolate": self.isolate,
            "name": self.label,
        }
        if self.methods.strip():
            raw["methods"] = self.method_list()
        for key in ("timeout_ms", "memory_mb", "fuel"):
            value = getattr(self, key)
            if value is not None:
                raw[key] = value
        return raw

    def to_binding(self) -> Binding:
        """The runtime `Binding`. Raises `BindingError` if the row is invalid."""
        return parse_binding(self.as_settings_dict())

    def clean(self) -> None:
        """Validate with the same rules as a settings binding; errors name their field."""
        super().clean()
        try:
            self.to_binding()
        except BindingError as exc:
            field = exc.field if exc.field in {f.name for f in self._meta.fields} else "__all__"
            raise ValidationError({field: str(exc)}) from None
        methods = self.method_list()
        self.methods = ", ".join(dict.fromkeys(methods))


class HooksRevision(models.Model):
    """One row whose number goes up with every change to modules, versions or bindings."""

    number = models.BigIntegerField(default=0)
    token = models.CharField(max_length=32, default="", help_text="Random, new with every change.")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "hooks revision"

    def __str__(self) -> str:
        return f"revision {self.number}"
