"""The example hooks of every guest language, built from source, behave identically.

`make guests` builds `guest-examples/<language>/build/<example>.wasm`. One table of cases
runs against every language through the middleware (and `wasmhooks.call` for `price`). A
language whose modules are not built is skipped, unless `WASMHOOKS_REQUIRE_ALL_GUESTS=1`
(set by `.ci/run`, which installs every toolchain) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import wasmhooks
from wasmhooks.abi import v1
from wasmhooks.bridge import CacheKeyValueStore
from wasmhooks.conf import conf
from wasmhooks.testutils import override_hooks
from wasmhooks.uploads import check_module

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO / "guest-examples"
LANGUAGES = ("assemblyscript", "c", "zig", "rust")
EXAMPLES = ("api-key", "headers", "flash-sale", "rewrite", "price")
REQUIRE_ALL = os.environ.get("WASMHOOKS_REQUIRE_ALL_GUESTS") == "1"

SDK_DECLARATIONS = {
    "assemblyscript": ("sdk/wasmhooks.ts", r'@external\("wasmhooks",\s*"(\w+)"\)'),
    "c": ("wasmhooks.h", r'import_name\("(\w+)"\)'),
    "zig": ("wasmhooks.zig", r'extern "wasmhooks" fn (\w+)\('),
    "rust": ("wasmhooks.rs", r"\bfn (\w+)\("),
}


def built(language: str, example: str) -> bytes:
    path = EXAMPLES_DIR / language / "build" / f"{example}.wasm"
    if not path.is_file():
        if REQUIRE_ALL:
            pytest.fail(f"{path} was not built: run `make guests`")
        pytest.skip(f"{language} examples are not built (its toolchain is missing): {path}")
    return path.read_bytes()


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_with(language: str, example: str, **binding: object) -> AbstractContextManager[dict[str, str]]:
    return override_hooks(
        {example: built(language, example)}, [{"module": example, "pattern": "^/", **binding}]
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_passes_the_upload_check(language, example):
    report = check_module(built(language, example))
    assert report.summary.abi == "v1"
    assert all(name.startswith(("wasmhooks.", "wasi_snapshot_preview1.")) for name in report.imports)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Api-Key": "k1"}, 200),
        ({"X-Api-Key": "k2"}, 200),
        ({}, 401),
        ({"X-Api-Key": "k3"}, 401),
        ({"X-Api-Key": "k"}, 401),
        ({"X-Api-Key": "k1,k2"}, 401),
        ({"X-Api-Key": ""}, 401),
    ],
)
def test_api_key(client, language, headers, status):
    with run_with(language, "api-key", config="k1,k2"):
        response = client.get("/api/x", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response["Content-Type"] == "application/json"
        assert response.content == b'{"error":"missing or invalid API key"}'
    else:
        assert response.json()["path"] == "/api/x"


@pytest.mark.parametrize("config", ["", "k1,,k2", "k1,k2,", ",k1"])
def test_api_key_never_matches_an_empty_key(client, language, config):
    with run_with(language, "api-key", config=config):
        assert client.get("/api/x", headers={"X-Api-Key": ""}).status_code == 401
        assert client.get("/api/x").status_code == 401
        if "k1" in config:
            assert client.get("/api/x", headers={"X-Api-Key": "k1"}).status_code == 200


def test_headers(client, language):
    with run_with(language, "headers"):
        response = client.get("/page/")
    assert response.status_code == 200
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"]) == ("DENY", "nosniff")
    assert "Server" not in response
    assert response["X-View"] == "echo"


def test_flash_sale(client, language):
    CacheKeyValueStore(conf.KV_CACHE, "flash-sale").delete(b"flash-sale:admitted")
    with run_with(language, "flash-sale", config="2"):
        first, second, third = (client.get("/sale/") for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["context"], second.json()["context"]) == ({"admission": "1"}, {"admission": "2"})
    assert third.status_code == 429
    assert third["Content-Type"] == "text/plain; charset=utf-8"
    assert third.content == b"sold out\n"


@pytest.mark.parametrize("config", [" 2", "2\n", "+2", "-1", "two", "", "99999999999999999999"])
def test_flash_sale_takes_only_digits_and_sells_out_otherwise(client, language, config):
    CacheKeyValueStore(conf.KV_CACHE, "flash-sale").delete(b"flash-sale:admitted")
    with run_with(language, "flash-sale", config=config):
        assert client.get("/sale/").status_code == 429


def test_rewrite_leaves_the_body_alone_without_an_item(client, language):
    with override_hooks(
        {"rewrite": built(language, "rewrite")}, [{"module": "rewrite", "pattern": r"^/items/"}]
    ):
        response = client.get("/items/42/")
    assert "x-item" not in response.json()["headers"]


def test_rewrite(client, language):
    with override_hooks(
        {"rewrite": built(language, "rewrite")},
        [{"module": "rewrite", "pattern": r"^/items/(?P<item>[^/]+)/$"}],
    ):
        response = client.get("/items/42/")
    prefix = b"item 42: "
    assert response.content.startswith(prefix)
    seen = json.loads(response.content[len(prefix) :])
    assert seen["headers"]["x-item"] == "42"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b'{"amount": 1250, "quantity": 3}', b'{"total":3750}'),
        (b'{"quantity":12,"amount":1250}', b'{"total":13500}'),
        (b'{ "amount" : 999 , "quantity" : 10 }', b'{"total":8991}'),
        (b'{"amount": 3000000000, "quantity": 4}', b'{"total":12000000000}'),
        (b'{"amount": 0, "quantity": 0}', b'{"total":0}'),
        (b'{"amount": 3, "quantity": 15}', b'{"total":40}'),
        (b'{"amount": 922337203685477580, "quantity": 10}', b'{"total":8301034833169298220}'),
        (b'{"amount": 9223372036854775807, "quantity": 1}', b'{"total":9223372036854775807}'),
        (b'{"amount": 9223372036854775808, "quantity": 1}', b'{"error":"bad input"}'),
        (b'{"amount": 4611686018427387904, "quantity": 10}', b'{"error":"bad input"}'),
        (b'{"amount": 5, "quantity": 1', b'{"error":"bad input"}'),
        (b'{"amount": 5 "quantity": 1}', b'{"error":"bad input"}'),
        (b'{"amount": -5, "quantity": 1}', b'{"error":"bad input"}'),
        (b'{"amount": 1.5, "quantity": 1}', b'{"error":"bad input"}'),
        (b'{"amount": 5}', b'{"error":"bad input"}'),
        (b'{"amount": "5", "quantity": 1}', b'{"error":"bad input"}'),
        (b"", b'{"error":"bad input"}'),
    ],
)
def test_price(language, given, expected):
    with override_hooks({"price": built(language, "price")}):
        assert wasmhooks.call("price", "price", given) == expected


def test_each_sdk_wraps_every_host_function(language):
    path, declaration = SDK_DECLARATIONS[language]
    source_path = EXAMPLES_DIR / language / path
    if not source_path.is_file():
        pytest.fail(f"{source_path} is missing")
    source = source_path.read_text()
    if language == "rust":  # the names inside the extern block of the "wasmhooks" import module
        block = source.split('wasm_import_module = "wasmhooks"', 1)[1].split("\n}", 1)[0]
        declared = set(re.findall(declaration, block))
    else:
        declared = set(re.findall(declaration, source))
    assert declared == {function.name for function in v1.FUNCTIONS}
