"""The runtime and ABI layers stand on their own: no Django behind them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import wasmhooks.runtime

NO_DJANGO = (
    "import sys, {package}; "
    "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
    "assert not loaded, loaded"
)


@pytest.mark.parametrize("package", ["wasmhooks.runtime", "wasmhooks.abi"])
def test_layer_imports_no_django(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_DJANGO.format(package=package)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_public_name_is_exported() -> None:
    for name in wasmhooks.runtime.__all__:
        assert getattr(wasmhooks.runtime, name) is not None
