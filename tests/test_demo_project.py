"""The demo site's configuration and the WAT example guests it uses, end to end.

`make test` builds the guests first (`make guests`); the bindings here are the demo's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wasmhooks.testutils import override_hooks

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "guest-examples" / "wat" / "build"
DEMO_MODULES = {name: str(BUILD / f"{name}.wasm") for name in ("add-header", "api-key", "hello")}
DEMO_BINDINGS = [
    {"module": "api-key", "pattern": r"^/api/", "config": "demo-key", "timeout_ms": 20, "order": 0},
    {"module": "add-header", "pattern": r"^/", "on_error": "continue", "order": 10},
]


@pytest.fixture
def demo_hooks():
    missing = [path for path in DEMO_MODULES.values() if not Path(path).is_file()]
    assert not missing, f"run `make guests` first; missing {missing}"
    with override_hooks(DEMO_MODULES, DEMO_BINDINGS):
        yield


def test_api_key_hook_answers_403_without_the_key(client, demo_hooks):
    response = client.get("/api/items/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "missing or wrong API key"}


def test_api_key_hook_lets_the_right_key_through_to_the_view(client, demo_hooks):
    response = client.get("/api/items/", headers={"X-Api-Key": "demo-key"})
    assert response.status_code == 200
    assert response.json()["path"] == "/api/items/"
    assert response["X-Powered-By-Hook"] == "wasmhooks"


def test_api_key_hook_refuses_a_wrong_key(client, demo_hooks):
    assert client.get("/api/items/", headers={"X-Api-Key": "demo-key!"}).status_code == 403


def test_add_header_hook_marks_every_response(client, demo_hooks):
    response = client.get("/anything/")
    assert response["X-Powered-By-Hook"] == "wasmhooks"
    assert response["X-Frame-Options"] == "DENY"


def test_hello_greets_through_wasmhooks_call(demo_hooks):
    import wasmhooks

    assert wasmhooks.call("hello", "greet", b"Ada") == b"hello, Ada"


def test_demo_settings_pass_the_system_checks():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo_project.settings"}
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "check", "--fail-level", "WARNING"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
