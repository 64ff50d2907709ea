"""What each kind of process runs: a service's API, its relay (and sealer), its Faust worker."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import faust
import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from deploy.http_server import api_server_options
from shared import collector, health, projection
from shared.db import client_name, create_pool
from shared.leadership import leadership
from shared.relay import Relay, ensure_topic
from shared.sealer import Sealer
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings, get_settings
from shared.store import UNAVAILABLE, EventStore
from shared.streams import create_worker_app
from shared.topic_watch import TopicWatch

log = logging.getLogger("jiedao")
# A relay's pacing when no settings are given: the settings' own defaults, kept in one place.
RELAY_DEFAULTS = {name: Settings.model_fields[name].default
                  for name in ("relay_linger_seconds", "relay_interval_seconds")}


def run_api(spec: ServiceSpec, settings: Settings, host: str, port: int) -> None:
    """The service's API on `port`: one process, or as many as JIEDAO_API_PROCESSES gives it.
    Several are uvicorn's workers: it binds the port once, each process accepts on it and
    runs the app's lifespan (its own pool and group commit), and one that dies is started
    again. One process of Python saturates a core; a busy API scales by processes."""
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                               "access_log": False, **api_server_options(settings)}
    count = settings.api_processes.get(spec.name, 1)
    if count == 1:
        uvicorn.run(create_service_app(spec, settings), **options)
        return
    # Each process imports the app by name and reads the settings from the environment (as
    # `jiedao api` does), so which service it serves goes by the environment too.
    os.environ[SERVED_SERVICE] = spec.name
    uvicorn.run(f"{__name__}:served_app", factory=True, workers=count, **options)


SERVED_SERVICE = "JIEDAO_SERVED_SERVICE"


def served_app() -> FastAPI:
    """The app that each of a service's several API processes serves (`run_api`)."""
    from deploy.registry import services

    return create_service_app(services()[os.environ[SERVED_SERVICE]], get_settings())



def run_worker(spec: ServiceSpec, settings: Settings) -> None:
    if not spec.has_worker:
        raise SystemExit(f"{spec.name} keeps no read models and has no reactions: it has no "
                         "stream worker")
    # uvloop, as the APIs (uvicorn) have: its loop and sockets cost a worker less CPU than
    # asyncio's own (a no-op reader at 200 messages/s: 0.29 -> 0.25 ms a message).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # A topic no relay has created yet (a service still to come) must exist to be assigned.
    asyncio.run(ensure_topics(settings, spec.topics_read()))
    worker = faust.Worker(create_worker_app(spec, settings), loglevel="WARNING")
    # Its terminal spinner sets the root logger to DEBUG, so every library's debug line (one
    # per fetch, per commit...) was made into a record: ~3% of a busy worker's CPU.
    worker.spinner = None
    collector.settle()
    worker.execute_from_commandline()


async def ensure_topics(settings: Settings, services: list[str]) -> None:
    for source in services:
        await ensure_topic(settings.require_kafka(), settings.topic(source),
                           settings.topic_partitions)


async def relay_forever(spec: ServiceSpec, settings: Settings) -> None:
    await relay_store(settings.require_database(), spec.name, spec.name,
                      settings.require_kafka(), settings.topic(spec.name),
                      settings.topic_partitions, linger_seconds=settings.relay_linger_seconds,
                      interval_seconds=settings.relay_interval_seconds)


async def relay_store(database_url: str, schema: str, source: str, bootstrap: str, topic: str,
                      partitions: int, *, batch: int = 5000, retry_seconds: float = 1.0,
                      linger_seconds: float = RELAY_DEFAULTS["relay_linger_seconds"],
                      interval_seconds: float = RELAY_DEFAULTS["relay_interval_seconds"]) -> None:
    """Publish store `schema` to `topic` (and seal it) while this process is the store's one
    active relay; a second relay waits as a standby. When PostgreSQL or the broker is away, or
    the lock's connection died (another relay may be active now), it starts over: waits for
    them, takes the lock again, resumes from the stored cursor."""
    while True:
        try:
            await _relay_while_active(database_url, schema, source, bootstrap, topic,
                                      partitions, batch, linger_seconds, interval_seconds)
        except OUTAGES as exc:
            log.warning("relay %s: %s: %s; starting over in %.0fs", schema,
                        type(exc).__name__, exc, retry_seconds)
            await asyncio.sleep(retry_seconds)


async def _relay_while_active(database_url: str, schema: str, source: str, bootstrap: str,
                              topic: str, partitions: int, batch: int,
                              linger_seconds: float, interval_seconds: float) -> None:
    pool = await create_pool(database_url, max_size=4, name=client_name(schema, "relay"))
    try:
        store = EventStore(pool, schema, source)
        await store.setup()
        async with leadership(database_url, f"relay:{schema}") as lost:
            await ensure_topic(bootstrap, topic, partitions)
            watch = TopicWatch(bootstrap, topic)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                        max_batch_size=256 * 1024)  # batches the relay fills
            try:
                await watch.start()
                await producer.start()
                relay = Relay(store, producer, topic, batch=batch, watch=watch)
                await relay.resume()
                log.info("relay %s -> %s from position %s", schema, topic, relay.position)
                await _until_lost(lost, relay.run(linger_seconds=linger_seconds,
                                                    interval_seconds=interval_seconds),
                                  Sealer(store).run())
            finally:
                await producer.stop()
                await watch.stop()
    finally:
        await pool.close()


class LeadershipLost(RuntimeError):
    """The connection holding the relay's lock died: another relay may be active now."""


# Worth waiting out: the database or the broker away (restarting), or the relay lock lost.
OUTAGES = (LeadershipLost, *UNAVAILABLE, asyncpg.exceptions.OperatorInterventionError,
           KafkaError)


async def _until_lost(lost: asyncio.Event, *work: Coroutine[Any, Any, None]) -> None:
    running = asyncio.gather(*work)
    losing = asyncio.create_task(lost.wait())
    try:
        await asyncio.wait([running, losing], return_when=asyncio.FIRST_COMPLETED)
    finally:
        running.cancel()
        losing.cancel()
        await asyncio.gather(running, losing, return_exceptions=True)
    if lost.is_set():
        raise LeadershipLost("lost the connection that held the relay lock")
    running.result()


async def rebuild_read_models(spec: ServiceSpec, settings: Settings,
                              say: Callable[[str], None] = print) -> dict[str, int]:
    """Empty each read model fed from the service's own store and replay the store into it.
    Read models learnt from other services' topics are kept: this store cannot refill them.
    A running worker's batches wait for each rebuild, then skip what it applied."""
    pool = await create_pool(settings.require_database(), name=client_name(spec.name, "rebuild"))
    try:
        store = EventStore(pool, spec.name, spec.name)
        for source, replicas in spec.consumes.items():
            for p in replicas:
                say(f"{p.schema}.{p.name}: kept (learnt from {source}'s events, "
                    f"not from {spec.name}'s store)")
        replayed = {}
        for p in spec.projections:
            name = f"{p.schema}.{p.name}"
            await projection.setup(pool, p)
            say(f"{name}: rebuilding from {spec.name}'s event store")
            replayed[name] = await projection.rebuild(pool, p, store, progress=_every(2.0, say,
                                                                                      name))
            say(f"{name}: rebuilt from {replayed[name]} events")
        return replayed
    finally:
        await pool.close()


def _every(seconds: float, say: Callable[[str], None], name: str) -> Callable[[int], None]:
    """Progress of a long rebuild, said at most every `seconds`."""
    last = time.monotonic()

    def progress(count: int) -> None:
        nonlocal last
        if time.monotonic() - last >= seconds:
            last = time.monotonic()
            say(f"{name}: {count} events replayed so far")

    return progress


async def check_health(spec: ServiceSpec, settings: Settings, part: str) -> dict[str, Any]:
    """The service's relay and workers as its API's /health reports them, read straight from
    the database (a container's health check); `ok` says whether `part` runs."""
    pool = await create_pool(settings.require_database(), min_size=1, max_size=1,
                             name=client_name(spec.name, "health check"))
    try:
        report = await health.service_health(pool, spec.name, spec.agents)
    finally:
        await pool.close()
    parts = {"relay": [report["relay"]], "workers": report["workers"]}
    checked = [p for name in parts if part in (name, "all") for p in parts[name]]
    return {"ok": all(p["status"] == "running" for p in checked), **report}


def run_relay(spec: ServiceSpec, settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def until_stopped() -> None:
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop and Ctrl-C alike
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        await relay_forever(spec, settings)

    collector.settle()
    try:
        uvloop.run(until_stopped())  # as the APIs and workers
    except asyncio.CancelledError:
        log.info("relay %s stopped", spec.name)
