#!/usr/bin/env bash
# Build the C guest examples: guest-examples/c/build/<example>.wasm.
# Run from the repository root: guest-examples/c/build.sh
# Toolchain: zig cc from PyPI ziglang==0.17.0 (in .venv); set PYTHON to use another interpreter.
set -euo pipefail

here="guest-examples/c"
python="${PYTHON:-.venv/bin/python}"
mkdir -p "$here/build"

for example in api-key headers flash-sale rewrite price; do
    out="$here/build/$example.wasm"
    "$python" -m ziglang cc --target=wasm32-freestanding -nostdlib -O2 -fno-builtin \
        -Wall -Wextra -Werror \
        -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=65536 \
        -o "$out" "$here/examples/$example.c"
    echo "built $out ($(wc -c <"$out") bytes)"
done
