"""Changes stored hooks from a process of its own, the way an admin on another host would.

    python -m tests.reload_driver upload NAME PATH        # store (and activate) a version
    python -m tests.reload_driver activate NAME NUMBER    # make an existing version run
    python -m tests.reload_driver bind NAME PATTERN       # bind NAME to paths
    python -m tests.reload_driver disable|enable|unbind BINDING_ID
    python -m tests.reload_driver delete-module NAME   # a bulk delete, with its versions and bindings
    python -m tests.reload_driver flip NAME A B TIMES PAUSE   # activate A, B, A... TIMES times
    python -m tests.reload_driver reset                   # delete every stored module and binding

Settings come from `DJANGO_SETTINGS_MODULE` (the tests pass `tests.reload_settings` and its
environment). Every change goes through `wasmhooks.uploads` or model `save()`/`delete()`, and
runs in autocommit, so it is committed when the call returns. The driver prints one JSON
object: `committed`, the `time.monotonic()` (a system-wide clock on Linux) just after the last
commit, `revision`, the hooks revision then, and what the action returns.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any


def upload(name: str, path: str) -> dict[str, Any]:
    from wasmhooks.uploads import store_upload

    result = store_upload(name, Path(path).read_bytes(), activate=True)
    return {"version": result.version.number, "version_created": result.version_created}


def activate(name: str, number: int) -> dict[str, Any]:
    from wasmhooks import uploads
    from wasmhooks.models import WasmModuleVersion

    version = WasmModuleVersion.objects.get(module__name=name, number=number)
    return {"changed": uploads.activate(version)}


def bind(name: str, pattern: str) -> dict[str, Any]:
    from wasmhooks.models import HookBinding, WasmModule

    # A generous timeout: the tests load two servers on a small machine, and are about reloading.
    binding = HookBinding(module=WasmModule.objects.get(name=name), pattern=pattern, timeout_ms=1000)
    binding.full_clean()
    binding.save()
    return {"binding": binding.pk}


def set_enabled(binding_id: int, enabled: bool) -> dict[str, Any]:
    from wasmhooks.models import HookBinding

    binding = HookBinding.objects.get(pk=binding_id)
    binding.enabled = enabled
    binding.save()
    return {"binding": binding.pk}


def unbind(binding_id: int) -> dict[str, Any]:
    from wasmhooks.models import HookBinding

    HookBinding.objects.get(pk=binding_id).delete()
    return {"binding": binding_id}


def delete_module(name: str) -> dict[str, Any]:
    """Delete the module with its versions and bindings in one bulk delete, like "delete selected"."""
    from wasmhooks.models import WasmModule

    _count, deleted = WasmModule.objects.filter(name=name).delete()
    return {"deleted": deleted}


def flip(name: str, first: int, second: int, times: int, pause: float) -> dict[str, Any]:
    """Activate `first`, `second`, `first`... `times` times, `pause` seconds apart."""
    commits = []
    for index in range(times):
        number = first if index % 2 == 0 else second
        activate(name, number)
        commits.append([time.monotonic(), number])
        if index < times - 1:
            time.sleep(pause)
    return {"commits": commits}


def reset() -> dict[str, Any]:
    from wasmhooks.models import HookBinding, WasmModule

    HookBinding.objects.all().delete()
    WasmModule.objects.all().delete()
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.reload_driver")
    actions = parser.add_subparsers(dest="action", required=True)
    action = actions.add_parser("upload")
    action.add_argument("name")
    action.add_argument("path")
    action = actions.add_parser("activate")
    action.add_argument("name")
    action.add_argument("number", type=int)
    action = actions.add_parser("bind")
    action.add_argument("name")
    action.add_argument("pattern")
    for verb in ("disable", "enable", "unbind"):
        actions.add_parser(verb).add_argument("binding", type=int)
    actions.add_parser("delete-module").add_argument("name")
    action = actions.add_parser("flip")
    action.add_argument("name")
    action.add_argument("first", type=int)
    action.add_argument("second", type=int)
    action.add_argument("times", type=int)
    action.add_argument("pause", type=float)
    actions.add_parser("reset")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reload_settings")
    import django

    django.setup()
    from wasmhooks import snapshot

    if args.action == "upload":
        result = upload(args.name, args.path)
    elif args.action == "activate":
        result = activate(args.name, args.number)
    elif args.action == "bind":
        result = bind(args.name, args.pattern)
    elif args.action in ("disable", "enable"):
        result = set_enabled(args.binding, args.action == "enable")
    elif args.action == "unbind":
        result = unbind(args.binding)
    elif args.action == "delete-module":
        result = delete_module(args.name)
    elif args.action == "flip":
        result = flip(args.name, args.first, args.second, args.times, args.pause)
    else:
        result = reset()
    committed = time.monotonic()
    print(json.dumps({"committed": committed, "revision": snapshot.read_revision().number, **result}))


if __name__ == "__main__":
    main()
