"""A toy service with a reaction and a periodic task, and its worker in a process of its own:
python -m tests.reaction_child SERVICE (settings from the environment, as `jiedao worker`).

Orders arrive on the topic of a service named `shop` (`test.ordered`, data: order_id, key,
and `poison` or `slow` for the tests); the reaction counts each order once on the toy
service's own store, in stream `tally-<key>` (`test.counted`). The periodic task appends a
`test.ticked` event to stream `ticks` on each run; its first run fails. With `view` after the
name, the worker also keeps a read model of the orders from the same topic (`OrdersView`,
which cannot read an order marked `unviewable`)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import asyncpg
from pydantic import BaseModel

from deploy.processes import run_worker
from shared.access import Place
from shared.envelope import SYSTEM, Envelope
from shared.errors import DomainError
from shared.events import DomainEvent, EventRegistry
from shared.projection import Statement
from shared.reactions import Periodic, Reaction, ReactionContext
from shared.repository import Repository
from shared.service import ServiceSpec
from shared.settings import Settings, get_settings

registry = EventRegistry()
SOURCE = "shop"


@registry.register
class Counted(DomainEvent):
    TYPE = "test.counted"
    order_id: str


@registry.register
class Ticked(DomainEvent):
    TYPE = "test.ticked"
    run: int


class Order(BaseModel):
    order_id: str
    key: str
    poison: bool = False
    slow: float = 0.0


class Tally:
    """A toy aggregate: the orders counted under one key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.version = 0
        self.orders: set[str] = set()

    @property
    def stream_id(self) -> str:
        return f"tally-{self.key}"

    def place(self) -> Place:
        return Place()

    def count(self, order_id: str) -> list[DomainEvent]:
        return [] if order_id in self.orders else [Counted(order_id=order_id)]

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, Counted):
            self.orders.add(event.order_id)


class Ticks:
    stream_id = "ticks"

    def __init__(self) -> None:
        self.version = 0

    def place(self) -> Place:
        return Place()

    def apply(self, event: DomainEvent) -> None:
        pass


class Counter:
    """The toy service's handler object (what a CaseDesk is to the grid)."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.runs = 0

    async def count(self, ordered: Envelope) -> None:
        order = Order.model_validate(ordered.data)  # refuses data it cannot read
        if order.poison:
            raise DomainError(f"order {order.order_id} cannot be counted", field="order_id")
        await asyncio.sleep(order.slow)
        await self.repository.act(Tally(order.key), lambda t: t.count(order.order_id),
                                  authorize=lambda _: SYSTEM)

    async def tick(self) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("the first run fails")
        await self.repository.act(Ticks(), lambda _: [Ticked(run=self.runs)],
                                  authorize=lambda _: SYSTEM)


async def count(context: ReactionContext, ordered: Envelope) -> None:
    await context.handler.count(ordered)


async def tick(context: ReactionContext) -> None:
    await context.handler.tick()


COUNT_ORDERS = Reaction("count_orders", frozenset({"test.ordered"}), count)
TICK = Periodic("tick", "overdue_check_seconds", tick)


class OrdersView:
    """A read model of the orders: a row per order, inserted once (a second insert of the
    same order would fail: the checkpoints must keep it from happening)."""

    name = "orders"
    streams = ("order-",)

    def __init__(self, service: str) -> None:
        self.schema = f"{service}_view"

    def ddl(self) -> str:
        return f"CREATE TABLE IF NOT EXISTS {self.schema}.orders (order_id text PRIMARY KEY);"

    def tables(self) -> list[str]:
        return ["orders"]

    def statements(self, event: Envelope) -> list[Statement]:
        if event.data.get("unviewable"):
            raise ValueError(f"order {event.data['order_id']} cannot be viewed")
        return [(f"INSERT INTO {self.schema}.orders VALUES ($1)", (event.data["order_id"],))]


def make_counter(repository: Repository, pool: asyncpg.Pool, settings: Settings) -> Any:
    return Counter(repository)


def toy_spec(name: str, *, view: bool = False) -> ServiceSpec:
    return ServiceSpec(name=name, title="toy", registry=registry, routers=[],
                       consumes={SOURCE: [OrdersView(name)]} if view else {},
                       reactions={SOURCE: [COUNT_ORDERS]}, periodic=[TICK],
                       handler=make_counter)


if __name__ == "__main__":
    run_worker(toy_spec(sys.argv[1], view="view" in sys.argv[2:]), get_settings())
