#!/usr/bin/env bash
# Build the five Zig examples into guest-examples/zig/build/<example>.wasm.
# Run from the repository root: guest-examples/zig/build.sh
# Uses the Zig of the PyPI package `ziglang` (0.17.0) in .venv; set PYTHON to use another Python.
set -euo pipefail

here="guest-examples/zig"
out="$here/build"
python="${PYTHON:-.venv/bin/python}"
mkdir -p "$out"
# Zig's caches stay inside the git-ignored build folder.
export ZIG_GLOBAL_CACHE_DIR="$out/.zig-global-cache"
export ZIG_LOCAL_CACHE_DIR="$out/.zig-cache"

for example in api-key headers flash-sale rewrite price; do
    "$python" -m ziglang build-exe \
        --cache-dir "$ZIG_LOCAL_CACHE_DIR" --global-cache-dir "$ZIG_GLOBAL_CACHE_DIR" \
        -target wasm32-freestanding -O ReleaseSmall -fstrip -fno-entry -rdynamic \
        --name "$example" -femit-bin="$out/$example.wasm" \
        --dep wasmhooks "-Mroot=$here/examples/$example.zig" \
        "-Mwasmhooks=$here/wasmhooks.zig"
    echo "built $out/$example.wasm ($(wc -c <"$out/$example.wasm") bytes)"
done
