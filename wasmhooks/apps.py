from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save


class WasmHooksConfig(AppConfig):
    name = "wasmhooks"
    verbose_name = "WebAssembly hooks"

    def ready(self) -> None:
        from .checks import check_database, check_settings
        from .models import HookBinding, WasmModule, WasmModuleVersion
        from .snapshot import bump_revision

        checks.register(check_settings)
        checks.register(check_database, checks.Tags.database)
        setting_changed.connect(_settings_changed, dispatch_uid="wasmhooks.settings_changed")
        for model in (WasmModule, WasmModuleVersion, HookBinding):
            for signal in (post_save, post_delete):
                signal.connect(
                    bump_revision, sender=model, dispatch_uid=f"wasmhooks.bump.{signal}.{model.__name__}"
                )


def _settings_changed(setting: str, **kwargs: Any) -> None:
    from . import registry, snapshot
    from .conf import WATCHED_SETTINGS

    if setting in WATCHED_SETTINGS:
        snapshot.reset()
        registry.reset()
