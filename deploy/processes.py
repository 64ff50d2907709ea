"""What each kind of process runs: a service's API, its relay (and sealer), its Faust worker."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

import faust
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared import projection
from shared.db import create_pool
from shared.relay import Relay, ensure_topic
from shared.sealer import Sealer
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings
from shared.store import EventStore

log = logging.getLogger("jiedao")


@dataclass(frozen=True)
class Service:
    spec: ServiceSpec
    create_worker_app: Callable[[Settings], faust.App] | None

    @property
    def name(self) -> str:
        return self.spec.name

    def create_app(self, settings: Settings) -> FastAPI:
        return create_service_app(self.spec, settings)


def services() -> dict[str, Service]:
    """The services that run today (imported here, not at module import time)."""
    from services.grid.app import SPEC as GRID
    from services.grid.streams import create_worker_app as grid_worker
    from services.intake.app import SPEC as INTAKE
    from services.intake.streams import create_worker_app as intake_worker

    return {"grid": Service(GRID, grid_worker), "intake": Service(INTAKE, intake_worker)}


def run_api(service: Service, settings: Settings, host: str, port: int) -> None:
    uvicorn.run(service.create_app(settings), host=host, port=port, log_level="warning",
                access_log=False)


def run_worker(service: Service, settings: Settings) -> None:
    if service.create_worker_app is None:
        raise SystemExit(f"{service.name} has no stream worker")
    app = service.create_worker_app(settings)
    faust.Worker(app, loglevel="WARNING").execute_from_commandline()


async def relay_forever(service: Service, settings: Settings) -> None:
    bootstrap, topic = settings.require_kafka(), settings.topic(service.name)
    pool = await create_pool(settings.require_database(), max_size=4)
    store = EventStore(pool, service.name, service.name)
    await store.setup()
    recreated = await ensure_topic(bootstrap, topic, settings.topic_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024)  # record batches the relay fills
    await producer.start()
    try:
        relay = Relay(store, producer, topic)
        await relay.resume(topic_was_recreated=recreated)
        log.info("relay %s -> %s from position %s", service.name, topic, relay.published)
        await asyncio.gather(relay.run(linger_seconds=settings.relay_linger_seconds),
                             Sealer(store).run())
    finally:
        await producer.stop()
        await pool.close()


async def rebuild_read_models(service: Service, settings: Settings) -> dict[str, int]:
    """Empty each of the service's read models and replay its event store into them."""
    pool = await create_pool(settings.require_database())
    try:
        store = EventStore(pool, service.name, service.name)
        replayed = {}
        for p in service.spec.projections:
            await projection.setup(pool, p)
            replayed[f"{p.schema}.{p.name}"] = await projection.rebuild(pool, p, store)
        return replayed
    finally:
        await pool.close()


def run_relay(service: Service, settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def until_stopped() -> None:
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop and Ctrl-C alike
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        await relay_forever(service, settings)

    try:
        asyncio.run(until_stopped())
    except asyncio.CancelledError:
        log.info("relay %s stopped", service.name)
