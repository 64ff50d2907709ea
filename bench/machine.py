"""What a benchmark's results file says of the machine it ran on. This VM's speed varies by
tens of percent from one hour to the next, so each run also times a fixed piece of pure
Python (`reference_ms`): two runs' figures compare only as far as their references agree."""

from __future__ import annotations

import os
import platform
import statistics
import time

REFERENCE_LOOPS = 2_000_000


def reference_ms(rounds: int = 5) -> float:
    """The median time of a fixed pure-Python loop, in ms (62 ms here at 2026-11-30 11:12)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(REFERENCE_LOOPS):
            total += i
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def machine() -> dict:
    """Cores, CPU model, Python, the load average and the reference time, taken now (before
    the platform starts)."""
    model = next((line.partition(":")[2].strip() for line in _cpuinfo()
                  if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "reference_ms": reference_ms()}


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo") as info:
            return info.read().splitlines()
    except OSError:
        return []
