#!/usr/bin/env bash
# Builds the Rust guest examples into guest-examples/rust/build/<example>.wasm.
# Run from anywhere (usually the repo root): guest-examples/rust/build.sh
# Needs Debian's rustc with the wasm32 standard library (libstd-rust-dev-wasm32);
# set RUSTC to use another rustc that has the wasm32-unknown-unknown target.
set -euo pipefail

RUSTC=${RUSTC:-/usr/bin/rustc}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$here/build"

for example in api-key headers flash-sale rewrite price; do
    out="$here/build/$example.wasm"
    "$RUSTC" --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib \
        --crate-name "${example//-/_}" \
        -C opt-level=s -C panic=abort -C lto=fat -C codegen-units=1 -C strip=symbols \
        -o "$out" "$here/examples/$example.rs"
    echo "built $out ($(wc -c <"$out") bytes)"
done
