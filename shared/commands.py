"""The one way a command endpoint is written: its parameters are the command, the repository
(`RepoDep`) and who sent it (`SenderDep`: the actor and the Idempotency-Key); its body is one
call to `act` (load → decide → save, answered in shared/http.py's `accepted` shape), or to a
service's handler where the decision reads more than one aggregate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from pydantic import BaseModel

from shared.auth import ActorDep
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.http import IdempotencyKey, accepted, app_state
from shared.idempotency import Idempotency
from shared.repository import Aggregate, Repository

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a command, and the Idempotency-Key they sent it with (if any)."""

    actor: Actor
    idempotency_key: str | None = None

    def idempotency(self, command: BaseModel) -> Idempotency | None:
        """The key as this caller's, for this command (shared/idempotency.py)."""
        return Idempotency.of(self.idempotency_key, command, self.actor.user_id)


async def _sender(actor: ActorDep, idempotency_key: IdempotencyKey = None) -> Sender:
    return Sender(actor, idempotency_key)


SenderDep = Annotated[Sender, Depends(_sender)]
RepoDep = Annotated[Repository, Depends(app_state("repository"))]


async def act(
    repo: Repository, aggregate: A, decide: Callable[[A], list[DomainEvent]],
    command: BaseModel, sender: Sender, *, expected_version: int | None = None, **ids: str,
) -> dict[str, Any]:
    """Load `aggregate`, let `decide` choose its events, save them (Repository.act: a retry
    under the same Idempotency-Key gets the first answer), and answer which stream moved."""
    result = await repo.act(aggregate, decide, actor=sender.actor,
                            expected_version=expected_version,
                            idempotency=sender.idempotency(command))
    return accepted(aggregate.stream_id, result, **ids)
