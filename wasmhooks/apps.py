from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed


class WasmHooksConfig(AppConfig):
    name = "wasmhooks"
    verbose_name = "WebAssembly hooks"

    def ready(self) -> None:
        from .checks import check_settings

        checks.register(check_settings)
        setting_changed.connect(_settings_changed, dispatch_uid="wasmhooks.settings_changed")


def _settings_changed(setting: str, **kwargs: Any) -> None:
    from . import registry, routing
    from .conf import WATCHED_SETTINGS

    if setting in WATCHED_SETTINGS:
        routing.reset()
        registry.reset()
