"""Proving that guest code runs off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def ticks_while(awaitable: Awaitable[Any]) -> tuple[Any, int]:
    """Await `awaitable` (its result, or the exception it raised) while counting 10 ms ticks
    of the event loop: a guest that blocked the loop would leave almost none."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    try:
        [result] = await asyncio.gather(awaitable, return_exceptions=True)
    finally:
        ticker.cancel()
    return result, ticks
