"""Compile a WebAssembly text file to a binary module: build_wat.py in.wat out.wasm."""

import sys
from pathlib import Path

import wasmtime


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(wasmtime.wat2wasm(source.read_text()))
    print(f"built {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
