"""Read your own writes: a read waits, bounded, until the read model has applied the writes it
must show.

Read models are built asynchronously (store → relay → Kafka → Faust worker → `project()`), so
right after a command the read model may lack its change. A read by id first looks the stream
up in the event store (the record): no stream is a definite 404 at once; otherwise it waits
until the projection's checkpoint for that stream reaches the store's version. A list read
takes the `consistency_token`s commands answer with (`?after=stream@version`) and waits for
them the same way; given a replica of another service's events, that service's tokens wait
for the replica (read your writes across services). Waits are bounded (`ReadModelBehind`,
HTTP 503, after `wait_seconds`).

Waiters sleep until a projection commits: `project()` NOTIFYs `<read-model schema>_projected`
in its transaction, and each API process holds one LISTEN connection that wakes them all.
While that connection is down, waiters poll the checkpoints every `POLL_SECONDS` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Query, Request

from shared.errors import DomainError, JiedaoError
from shared.projection import Projection, keeps, projected_channel
from shared.store import EventStore

log = logging.getLogger(__name__)

WAIT_SECONDS = 5.0  # how long a read waits for the read model before answering 503
POLL_SECONDS = 0.05  # how often waiters look while no LISTEN connection is up
LISTENING_RECHECK_SECONDS = 0.5  # a waiter looks again at least this often, listening or not
TOKEN = re.compile(r"(?P<stream_id>.+)@(?P<version>[1-9][0-9]{0,9})")


class ReadModelBehind(JiedaoError):
    """The read model did not apply the writes a read must show within the wait."""

    status = 503
    public_message = ("a read model has not applied the writes this read must show within the "
                      "wait: its worker is stopped or far behind; retry later")


def consistency_token(stream_id: str, version: int) -> str:
    """What a command answers with: a list read `?after=` it shows that version or later."""
    return f"{stream_id}@{version}"


def parse_token(token: str) -> tuple[str, int]:
    match = TOKEN.fullmatch(token)
    if match is None:
        raise DomainError(f"{token!r} is not a consistency token (stream@version, as a "
                          "command's consistency_token)", field="after")
    return match["stream_id"], int(match["version"])


class Freshness:
    """One per API process: made in the composition root, `start()`ed, `close()`d."""

    def __init__(self, store: EventStore, projections: list[Projection], *,
                 wait_seconds: float = WAIT_SECONDS, relisten_seconds: float = 1.0) -> None:
        self.store = store
        self.pool: asyncpg.Pool = store.pool
        self.projections = {p.name: p for p in projections}
        self.wait_seconds = wait_seconds
        self.relisten_seconds = relisten_seconds
        self._news = asyncio.Event()  # replaced at every notification: waiters hold the old one
        self.commits = 0  # notifications so far (the dashboard's live stream counts them)
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.projections and self._task is None:
            self._task = asyncio.create_task(self._listen_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def listening(self) -> bool:
        return self._listening

    # -- waiting -----------------------------------------------------------------------------

    async def settled(self, projection: str, *stream_ids: str) -> dict[str, int]:
        """Wait until `projection` has applied each of these streams up to its version in the
        store now. Returns the versions of the streams that exist: empty means none does (a
        definite 404, answered without waiting)."""
        wanted = await self.store.stream_versions(list(stream_ids))
        await self.reached(projection, wanted)
        return wanted

    async def after(self, projection: str, tokens: list[str], *,
                    replica: str | None = None) -> None:
        """Wait until `projection` shows what these consistency tokens name; a token this
        service's store does not hold is invalid input (422), unless a `replica` of another
        service's events is named: it is that service's token, and the wait is for the
        replica to show it (read your writes across services). This store cannot tell such
        a token from a write never made: that one waits out the bound (`ReadModelBehind`)."""
        wanted = _wanted(tokens)
        stored = await self.store.stream_versions(list(wanted))
        foreign = {s: v for s, v in wanted.items() if stored.get(s, 0) < v}
        if foreign and replica is None:
            raise DomainError("not a consistency token of this service: "
                              + ", ".join(f"{s}@{v}" for s, v in foreign.items()),
                              field="after")
        await self.reached(projection, {s: v for s, v in wanted.items() if s not in foreign})
        if foreign and replica is not None:
            await self.reached(replica, foreign)

    async def reached(self, projection: str, wanted: dict[str, int]) -> None:
        """Until the projection's checkpoint of every stream in `wanted` is at least its
        version; `ReadModelBehind` after `wait_seconds`."""
        p = self.projections[projection]
        wanted = {s: v for s, v in wanted.items() if keeps(p, s)}  # others it never shows
        if not wanted:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while True:
            news = self._news  # taken before looking, so a commit in between still wakes us
            behind = await self._behind(p, wanted)
            if not behind:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ReadModelBehind(_behind_message(behind, self.wait_seconds))
            pause = LISTENING_RECHECK_SECONDS if self._listening else POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(news.wait(), min(remaining, pause))

    async def _behind(self, p: Projection, wanted: dict[str, int]) -> dict[str, tuple[int, int]]:
        rows = await self.pool.fetch(
            f"SELECT stream_id, version FROM {p.schema}.checkpoints "
            "WHERE projection = $1 AND stream_id = ANY($2::text[])", p.name, list(wanted),
        )
        applied = {row["stream_id"]: row["version"] for row in rows}
        return {s: (applied.get(s, 0), v) for s, v in wanted.items() if applied.get(s, 0) < v}

    async def commit_after(self, seen: int) -> int:
        """Wait until a read model commits after the `seen`th notification; the count now
        (also woken when listening starts or stops: commits may have been missed)."""
        while True:
            news = self._news
            if self.commits > seen:
                return self.commits
            await news.wait()

    # -- listening ---------------------------------------------------------------------------

    def _arrived(self, *_: object) -> None:
        self.commits += 1
        news, self._news = self._news, asyncio.Event()
        news.set()

    async def _listen_forever(self) -> None:
        channels = sorted({projected_channel(p.schema) for p in self.projections.values()})
        while True:
            try:
                await self._listen(channels)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarting: poll meanwhile, listen again
                log.warning("freshness: cannot listen for projections (%s); polling", exc)
            await asyncio.sleep(self.relisten_seconds)

    async def _listen(self, channels: list[str]) -> None:
        lost = asyncio.Event()
        async with self.pool.acquire() as con:
            con.add_termination_listener(lambda *_: lost.set())
            for channel in channels:
                await con.add_listener(channel, self._arrived)
            self._listening = True
            self._arrived()  # commits while nobody listened: let the waiters look again
            try:
                await lost.wait()
            finally:
                self._listening = False
                self._arrived()  # waiters switch to polling now
                if not con.is_closed():  # (a connection that died unnoticed must not hang us)
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(1):
                            for channel in channels:
                                await con.remove_listener(channel, self._arrived)


def _wanted(tokens: list[str]) -> dict[str, int]:
    """The highest version each token names, by stream (422 for one that is not a token)."""
    wanted: dict[str, int] = {}
    for stream_id, version in map(parse_token, tokens):
        wanted[stream_id] = max(version, wanted.get(stream_id, 0))
    return wanted


def _behind_message(behind: dict[str, tuple[int, int]], seconds: float) -> str:
    """Names the streams (the caller's own ids), not the read model's table: error bodies
    carry no schema names."""
    streams = ", ".join(f"{s} (at v{at}, written up to v{v})" for s, (at, v) in behind.items())
    return (f"the read model has not applied {streams} after {seconds:g} s: its worker is "
            "stopped or far behind; retry later")


# -- FastAPI dependencies ------------------------------------------------------------------------


async def get_freshness(request: Request) -> Freshness:
    return request.app.state.freshness


FreshnessDep = Annotated[Freshness, Depends(get_freshness)]
AFTER_DESCRIPTION = ("A command's `consistency_token` (repeatable): the list waits (up to 5 s, "
                     "then 503) until the read model shows that write (where it shows another "
                     "service's events, that service's commands' tokens too).")


After = Annotated[list[str] | None, Query(description=AFTER_DESCRIPTION)]


def after_tokens(projection: str, replica: str | None = None) -> Callable[..., Any]:
    """A dependency for a list endpoint over `projection`: `?after=TOKEN` waits for it (and,
    with a `replica`, for another service's tokens: `Freshness.after`)."""

    async def wait_for_tokens(
        freshness: FreshnessDep,
        after: After = None,
    ) -> None:
        if after:
            await freshness.after(projection, after, replica=replica)

    return wait_for_tokens
