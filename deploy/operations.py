"""Operators' commands on a service's read models and reactions: list and retry their dead
letters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from shared import deadletters, projection, reactions
from shared.db import client_name, create_pool
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.store import EventStore

Say = Callable[[str], None]


def describe(letter: dict[str, Any]) -> list[str]:
    """One dead letter in two lines: what and where, then why."""
    where = (f"{letter['stream_id']} v{letter['version']} {letter['type']}"
             if letter["stream_id"] is not None else "(not a jiedao event)")
    return [f"  {letter['reason']:<9} {where}  event {letter['event_id']}  "
            f"since {deadletters.when(letter['recorded_at'])}",
            f"            {letter['error']}"]


async def list_dead_letters(spec: ServiceSpec, settings: Settings, say: Say = print) -> int:
    """Print every read model's and reaction's dead letters; returns how many there are."""
    pool = await create_pool(settings.require_database(), max_size=2,
                             name=client_name(spec.name, "deadletters"))
    total = 0
    try:
        for p in spec.read_models:
            await projection.setup(pool, p)
        if spec.reactions:
            await reactions.setup(pool, spec.name)
        for p in spec.agents:
            letters = await deadletters.listing(pool, p.schema, p.name)
            say(f"{p.schema}.{p.name}: {len(letters) or 'no'} dead letter"
                f"{'' if len(letters) == 1 else 's'}")
            for letter in letters:
                for line in describe(letter):
                    say(line)
            total += len(letters)
    finally:
        await pool.close()
    return total


async def retry_dead_letters(spec: ServiceSpec, settings: Settings,
                             event_ids: list[str] | None, say: Say = print) -> int:
    """Apply dead letters again (all, or the streams of `event_ids`); returns how many are
    still dead afterwards."""
    pool = await create_pool(settings.require_database(), max_size=4,
                             name=client_name(spec.name, "deadletters"))
    store = EventStore(pool, spec.name, spec.name)
    left = 0
    try:
        owned = [(p, store) for p in spec.projections]
        for p, source in owned + [(p, None) for p in spec.replicas]:
            await projection.setup(pool, p)
            outcomes = await projection.retry(pool, p, source, event_ids)
            if not outcomes:
                say(f"{p.schema}.{p.name}: nothing to retry")
            for o in outcomes:
                say(f"{p.schema}.{p.name}: {o.stream_id}: applied {o.applied} event"
                    f"{'' if o.applied == 1 else 's'}; "
                    + (f"{len(o.still_dead)} still dead:" if o.still_dead else "none left"))
                for letter in o.still_dead:
                    for line in describe(letter):
                        say(line)
                left += len(o.still_dead)
        left += await _retry_reactions(spec, settings, pool, event_ids, say)
    finally:
        await pool.close()
    return left


async def _retry_reactions(spec: ServiceSpec, settings: Settings, pool: asyncpg.Pool,
                           event_ids: list[str] | None, say: Say) -> int:
    """Hand each reaction's dead letters to the service's handler again."""
    if not spec.reactions:
        return 0

    async def opened() -> asyncpg.Pool:
        return pool

    context = await reactions.Contexts(opened, spec.name, spec.registry, settings,
                                       spec.handler).get()
    left = 0
    try:
        for _, r in spec.reaction_feeds():
            handled, still = await reactions.retry(context, spec.name, r, event_ids)
            say(f"{spec.name}.{r.name}: handled {handled} event{'' if handled == 1 else 's'}; "
                + (f"{len(still)} still dead:" if still else "none left"))
            for letter in still:
                for line in describe(letter):
                    say(line)
            left += len(still)
    finally:
        await context.repository.store.close()
    return left
