"""`wasmhooks.call` against Extism, calling the same trivial logic with 1 KB in and 1 KB out.

The logic is an echo: the guest copies its input into its memory and writes it back as its
output. For wasmhooks it is a WAT guest using the ABI v1 `input` and `output` host functions;
for Extism a plain WAT module (no PDK) importing the `extism:host/env` kernel functions, run
in one long-lived `extism.Plugin`. A Python function doing the same copy gives the scale.
Both guests must return the input unchanged before anything is timed. The variants alternate
over rounds; the medians are printed in µs per call, with the ratio Extism / wasmhooks.

Extism is the `bench` extra (`pip install -e '.[bench]'`, which `make bench` does); without
it the Extism row says so and the rest still runs.

Run: `make bench`, or `.venv/bin/python bench/call_vs_extism.py`. `BENCH_CALLS` (per sample)
and `BENCH_ROUNDS` change the counts; `BENCH_QUICK=1` runs tiny ones.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

_common.setup_django()

import wasmhooks  # noqa: E402
from bench._common import Row, alternate, count, median, print_table, times  # noqa: E402
from tests.guests import guest  # noqa: E402
from wasmhooks.testutils import wasm_from_wat  # noqa: E402

CALLS = count("BENCH_CALLS", 20_000, 200)
ROUNDS = count("BENCH_ROUNDS", 5, 2)
PAYLOAD = bytes(range(256)) * 4  # 1 KB
GOAL_RATIO = 2.0

# The input lands at offset 1024 of the guest's one page; anything longer than the room left
# there fails the call (returns 1) instead of being cut short.
WASMHOOKS_ECHO = guest("""
(func (export "echo") (result i32)
  (local $length i32)
  (local.set $length (call $input (i32.const 1024) (i32.const 64512)))
  (if (i32.gt_u (local.get $length) (i32.const 64512)) (then (return (i32.const 1))))
  (drop (call $output (i32.const 1024) (local.get $length)))
  (i32.const 0))
""")

# The same echo against Extism's kernel: the input is read 8 bytes at a time (then byte by
# byte for the tail) into the guest's memory at 1024, then copied the same way into a block
# allocated in the kernel's memory, which becomes the output. This is what a PDK does for a
# plugin that loads its input and sets its output.
EXTISM_ECHO = wasm_from_wat("""(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func (export "echo") (result i32)
    (local $length i64) (local $words i64) (local $at i64) (local $out i64)
    (local.set $length (call $input_length))
    (if (i64.gt_u (local.get $length) (i64.const 64512)) (then (return (i32.const 1))))
    (local.set $words (i64.and (local.get $length) (i64.const -8)))
    (block $read_done (loop $read_words
      (br_if $read_done (i64.ge_u (local.get $at) (local.get $words)))
      (i64.store offset=1024 (i32.wrap_i64 (local.get $at)) (call $input_load_u64 (local.get $at)))
      (local.set $at (i64.add (local.get $at) (i64.const 8)))
      (br $read_words)))
    (block $tail_done (loop $read_bytes
      (br_if $tail_done (i64.ge_u (local.get $at) (local.get $length)))
      (i32.store8 offset=1024 (i32.wrap_i64 (local.get $at)) (call $input_load_u8 (local.get $at)))
      (local.set $at (i64.add (local.get $at) (i64.const 1)))
      (br $read_bytes)))
    (local.set $out (call $alloc (local.get $length)))
    (local.set $at (i64.const 0))
    (block $write_done (loop $write_words
      (br_if $write_done (i64.ge_u (local.get $at) (local.get $words)))
      (call $store_u64 (i64.add (local.get $out) (local.get $at))
        (i64.load offset=1024 (i32.wrap_i64 (local.get $at))))
      (local.set $at (i64.add (local.get $at) (i64.const 8)))
      (br $write_words)))
    (block $write_tail_done (loop $write_bytes
      (br_if $write_tail_done (i64.ge_u (local.get $at) (local.get $length)))
      (call $store_u8 (i64.add (local.get $out) (local.get $at))
        (i32.load8_u offset=1024 (i32.wrap_i64 (local.get $at))))
      (local.set $at (i64.add (local.get $at) (i64.const 1)))
      (br $write_bytes)))
    (call $output_set (local.get $out) (local.get $length))
    (i32.const 0)))
""")


def python_echo(data: bytes) -> bytes:
    """The baseline: the same two copies (into a buffer, back out) in Python."""
    return bytes(bytearray(data))


def extism_echo() -> Callable[[bytes], bytes] | None:
    """`echo` of a long-lived Extism plugin, or None when extism is not installed."""
    try:
        import extism  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    # functions=[]: only the kernel, not the SDK's process-wide registry of host functions.
    plugin = extism.Plugin(EXTISM_ECHO, wasi=False, functions=[])

    def echo(data: bytes) -> bytes:
        return bytes(plugin.call("echo", data))

    return echo


def per_call_us(function: Callable[[bytes], bytes]) -> Callable[[], float]:
    def sample() -> float:
        started = time.perf_counter()
        for _ in range(CALLS):
            function(PAYLOAD)
        return (time.perf_counter() - started) / CALLS * 1e6

    return sample


def main() -> None:
    module = _common.scratch_folder() / "echo.wasm"
    module.write_bytes(WASMHOOKS_ECHO)

    def wasmhooks_echo(data: bytes) -> bytes:
        output: bytes = wasmhooks.call("echo", "echo", input=data)
        return output

    echoes: dict[str, Callable[[bytes], bytes]] = {"python": python_echo, "wasmhooks.call": wasmhooks_echo}
    extism = extism_echo()
    if extism is not None:
        echoes["extism"] = extism
    with _common.configured(WASMHOOKS_MODULES={"echo": str(module)}):
        for name, echo in echoes.items():
            assert echo(PAYLOAD) == PAYLOAD, f"{name} does not echo its input"
            assert echo(b"odd length") == b"odd length", f"{name} does not echo a short input"
        samples = alternate({name: per_call_us(echo) for name, echo in echoes.items()}, ROUNDS)
    figures = {name: median(values) for name, values in samples.items()}
    ours, python = figures["wasmhooks.call"], figures["python"]
    rows = [
        Row("python echo (scale)", f"{python:.2f} µs"),
        Row("wasmhooks.call echo", f"{ours:.2f} µs", f"python {python:.2f} µs", times(ours / python)),
    ]
    goal = f"extism ≥ {GOAL_RATIO:.0f}x wasmhooks"
    if extism is None:
        rows.append(Row("extism echo", "not installed", goal=goal))
    else:
        theirs = figures["extism"]
        ratio = theirs / ours
        rows.append(
            Row(
                "extism echo",
                f"{theirs:.2f} µs",
                f"wasmhooks {ours:.2f} µs",
                times(ratio),
                goal,
                ratio >= GOAL_RATIO,
            )
        )
    notes = [f"{ROUNDS} rounds of {CALLS} calls per variant, alternated; 1 KB in, 1 KB out; medians"]
    if extism is None:
        notes.append("extism is not installed: pip install -e '.[bench]' (make bench does)")
    print_table("call: wasmhooks.call against Extism, per call", rows, notes)


if __name__ == "__main__":
    main()
