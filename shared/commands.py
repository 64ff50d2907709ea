"""The one way a command endpoint is written: its parameters are the command, the repository
(`RepoDep`) and who sent it (`sender: Annotated[Sender, by(Role.X, ...)]`: the signed-in
caller, let through if they hold one of those roles, and the Idempotency-Key); its body is one
call to `act` (load → check the caller's scope → decide → check again → save, answered in
shared/http.py's `accepted` shape), or to a service's handler where the decision reads more
than one aggregate (it calls `sender.caller.authorize(place)` itself)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel

from shared.access import Role
from shared.auth import Allow, Caller
from shared.events import DomainEvent
from shared.http import IdempotencyKey, accepted, app_state
from shared.idempotency import Idempotency
from shared.repository import Aggregate, Repository

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a command, and the Idempotency-Key they sent it with (if any)."""

    caller: Caller
    idempotency_key: str | None = None

    def idempotency(self, command: BaseModel) -> Idempotency | None:
        """The key as this caller's, for this command (shared/idempotency.py)."""
        return Idempotency.of(self.idempotency_key, command, self.caller.user_id)


class AllowSender(Allow):
    """`Allow` that also reads the Idempotency-Key: a command's rule as one dependency, since
    each dependency costs FastAPI a resolution per request."""

    # Annotations evaluated here (no `from __future__ import annotations` in this module):
    # FastAPI cannot resolve a string annotation on an object's `__call__`.
    async def __call__(self, request: Request,  # type: ignore[override]
                       idempotency_key: IdempotencyKey = None) -> Sender:
        return Sender(await super().__call__(request), idempotency_key)


def by(*roles: Role) -> Any:
    """The dependency of a command any of `roles` may send (shared/auth.py's `allow`)."""
    return Depends(AllowSender(frozenset(roles)))


RepoDep = Annotated[Repository, Depends(app_state("repository"))]


async def act(
    repo: Repository, aggregate: A, decide: Callable[[A], list[DomainEvent]],
    command: BaseModel, sender: Sender, *, expected_version: int | None = None, **ids: str,
) -> dict[str, Any]:
    """Load `aggregate`, let `decide` choose its events, save them (Repository.act: a retry
    under the same Idempotency-Key gets the first answer), and answer which stream moved.
    The caller's grants must cover where the aggregate is before and after (403)."""
    result = await repo.act(aggregate, decide,
                            authorize=lambda a: sender.caller.authorize(a.place()),
                            expected_version=expected_version,
                            idempotency=sender.idempotency(command))
    return accepted(aggregate.stream_id, result, **ids)
