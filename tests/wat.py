"""Building blocks for the Django-layer tests' WAT guests.

`Guest` places strings in the guest's memory and writes host calls with them, so a test
reads as the calls its guest makes:

    g = Guest()
    wasm = g.build(on_request=[g.do("response_set_header", "X-Hook", "yes"), 1])

Arguments of `op`/`do`/`expect`: a `str` is placed in memory and passed as `ptr len`, an
`int` is an `i32.const`, a `W` is raw WAT. Each export is a list of statements whose last
item may be the `int` it returns (0 by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.guests import guest
from wasmhooks.abi import HOST_FUNCTIONS


@dataclass(frozen=True)
class W:
    """Raw WAT, passed through unchanged."""

    text: str

    def __str__(self) -> str:
        return self.text


BUF_OFFSET = 32768
BUF = W(f"(i32.const {BUF_OFFSET})")
READ = W(f"(i32.const {BUF_OFFSET}) (i32.const 16384)")
"""The `buf cap` operands of a reader: a scratch buffer in the upper half of the first page."""

INFINITE_LOOP = "(loop $spin (br $spin))"
MEMORY_BOMB = "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"

_RESULTS = {function.name: function.results for function in HOST_FUNCTIONS}


def i64(value: int) -> W:
    return W(f"(i64.const {value})")


class Guest:
    def __init__(self) -> None:
        self.data: dict[int, str] = {}
        self._next = 64

    def text(self, value: str) -> W:
        """Place `value` in memory; return its `ptr len` operands."""
        raw = value.encode()
        offset = self._next
        self._next += len(raw) + 8
        assert self._next < BUF_OFFSET
        self.data[offset] = "".join(f"\\{byte:02x}" for byte in raw)
        return W(f"(i32.const {offset}) (i32.const {len(raw)})")

    def op(self, function: str, *args: str | int | W) -> W:
        """The call expression, leaving its result on the stack."""
        operands = " ".join(str(self._operand(arg)) for arg in args)
        return W(f"(call ${function} {operands})")

    def do(self, function: str, *args: str | int | W) -> str:
        """The call as a statement, its result dropped."""
        call = self.op(function, *args)
        return f"(drop {call})" if _RESULTS[function] else str(call)

    def expect(self, status: int, function: str, *args: str | int | W) -> str:
        """The call as a statement that traps unless it returns `status`."""
        kind = _RESULTS[function][0]
        return f"(if ({kind}.ne {self.op(function, *args)} ({kind}.const {status})) (then unreachable))"

    def copy(self, header: str, reader: str, *args: str | int | W) -> str:
        """Set response header `header` to what `reader(*args, buf, cap)` reads."""
        return self.do("response_set_header", header, BUF, self.op(reader, *args, READ))

    def output(self, expr: W, kind: str = "i32") -> str:
        """Statements that `output` the value of `expr` (little-endian `kind`) for `wasmhooks.call`."""
        size = 4 if kind == "i32" else 8
        return f"({kind}.store {BUF} {expr}) {self.do('output', BUF, size)}"

    def build(self, memory_pages: int = 1, marker: bool = True, **exports: list[str | int]) -> bytes:
        functions = []
        for name, statements in exports.items():
            result = statements[-1] if statements and isinstance(statements[-1], int) else 0
            body = " ".join(str(s) for s in statements if not isinstance(s, int))
            functions.append(f'(func (export "{name}") (result i32) {body} (i32.const {result}))')
        return guest("\n".join(functions), data=self.data, memory_pages=memory_pages, marker=marker)

    def _operand(self, arg: str | int | W) -> W:
        if isinstance(arg, W):
            return arg
        if isinstance(arg, int):
            return W(f"(i32.const {arg})")
        return self.text(arg)


def hook(**exports: list[str | int]) -> bytes:
    """A guest whose exports make no host calls needing strings (`hook(on_request=[1])`)."""
    return Guest().build(**exports)


def number(output: bytes) -> int:
    """The value a guest wrote with `Guest.output`."""
    return int.from_bytes(output, "little", signed=True)
