"""Open-loop load, the one way the end-to-end benchmarks offer requests: request i is due at
start + i / rate and is sent then, whether or not the earlier ones have been answered, so a
slow server cannot hide its queue; a latency counts from when its request was due.

A rate's first `RAMP_SECONDS` of requests are sent but not measured: they open the
connections that rate needs and warm the caches. Without it, each rate's first second paid for
opening a connection per request in flight (~300 at 1,000 filings/s, 0.4-0.5 s of latency in
that second: most of a 20 s run's p99), a cost of the load generator's fresh pool, not of the
platform's steady state, which is what a sustained rate measures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

RAMP_SECONDS = 3.0


async def open_loop(rate: float, seconds: float,
                    send: Callable[[int, float, bool], Awaitable[None]], *,
                    ramp: float = RAMP_SECONDS) -> float:
    """Call `send(i, due, measured)` for each request of `ramp` + `seconds` at `rate` (`i`
    counts the measured ones from 0; `measured` is False during the ramp), each when it is
    due, and wait for all of them. Returns the rate at which the measured ones were answered:
    their count over the time from the first answer to the last, so a steady latency does not
    lower it and a growing queue (a server short of the rate) does."""
    ramped, total = int(rate * ramp), int(rate * seconds)
    answered: list[float] = []

    async def measured(n: int, due: float) -> None:
        await send(n - ramped, due, True)
        answered.append(time.perf_counter())

    start = time.perf_counter() + 0.2
    in_flight: set[asyncio.Task[None]] = set()
    for n in range(ramped + total):
        due = start + n / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(measured(n, due) if n >= ramped
                                   else send(n - ramped, due, False))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    if len(answered) < 2:
        return float(len(answered))
    return (len(answered) - 1) / (max(answered) - min(answered))
