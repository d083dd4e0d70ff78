#!/usr/bin/env bash
# Build the AssemblyScript examples into guest-examples/assemblyscript/build/<example>.wasm.
# Run from anywhere (the lead runs it from the repo root). Needs Node.js >= 20 and npm; the
# compiler (assemblyscript 0.28.20, pinned in package-lock.json) is installed with `npm ci`
# into node_modules/ on first use.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ ! -x node_modules/.bin/asc ]; then
  npm ci --no-audit --no-fund >&2
fi

mkdir -p build
for example in api-key headers flash-sale rewrite price; do
  # --runtime incremental: instances are reused between calls, so garbage must be collected.
  # -O3z: optimize level 3, shrink level 2 (about 20% smaller than plain --optimize).
  # --use abort=...: the SDK's abort (log + trap) instead of an `env.abort` import.
  node_modules/.bin/asc "examples/$example.ts" \
    --outFile "build/$example.wasm" \
    --runtime incremental \
    -O3z --noAssert \
    --use abort=sdk/wasmhooks/abort
  echo "built guest-examples/assemblyscript/build/$example.wasm ($(wc -c < "build/$example.wasm") bytes)"
done
