"""The benchmarks' open-loop driver (bench/load.py): what it measures is what the floors rest on."""

import asyncio
import time

from bench.load import open_loop


async def test_the_ramp_is_sent_but_not_measured_and_each_request_goes_when_due() -> None:
    calls: list[tuple[int, float, bool, float]] = []

    async def send(i: int, due: float, measured: bool) -> None:
        calls.append((i, due, measured, time.perf_counter()))

    await open_loop(200.0, 0.5, send, ramp=0.25)
    ramp, measured = [c for c in calls if not c[2]], [c for c in calls if c[2]]
    assert len(ramp) == 50 and len(measured) == 100
    assert [c[0] for c in measured] == list(range(100))
    assert max(c[1] for c in ramp) < min(c[1] for c in measured)  # the ramp comes first
    assert all(sent >= due - 0.001 for _, due, _, sent in calls)  # none before its time


async def test_a_steady_latency_does_not_lower_the_answer_rate() -> None:
    async def send(i: int, due: float, measured: bool) -> None:
        await asyncio.sleep(0.15)  # every answer 150 ms late: a server keeping up

    rate = await open_loop(200.0, 1.0, send, ramp=0.1)
    assert 190 <= rate <= 210


async def test_a_server_short_of_the_rate_shows_in_the_answer_rate() -> None:
    one_at_a_time = asyncio.Lock()

    async def send(i: int, due: float, measured: bool) -> None:
        async with one_at_a_time:
            await asyncio.sleep(0.01)  # at most ~100 answers/s: its queue grows at 200/s

    rate = await open_loop(200.0, 1.0, send, ramp=0.1)
    assert rate < 110
