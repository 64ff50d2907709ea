"""How a long-running service process sets Python's cyclic garbage collector.

By default the collector examines the youngest generation every 700 net allocations of
container objects. A process handling hundreds of requests or events a second crosses that
many times a second with objects that are merely in flight (a request's dicts, futures and
models, alive only until it is answered): the collector examines them, promotes the survivors,
and examines them again in the older generations, and a full collection of everything that piled
up stalls the process. Measured in a busy intake API process (1,000 filings/s across two): ~15 %
of its CPU went to the collector, ~60 ms for each full collection (bench/README.md, "Python's
garbage collector").
"""

from __future__ import annotations

import gc

# Net allocations between two collections of the youngest generation: in-flight objects die by
# reference counting well before this many pile up, so mostly reference cycles wait for it.
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Call once a process has started: what exists now (modules, the app, its caches) lives
    as long as the process, so it is collected once and moved out of the collector's sight
    (`gc.freeze`), and the youngest generation is examined every `YOUNG_THRESHOLD` net
    allocations instead of 700."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
