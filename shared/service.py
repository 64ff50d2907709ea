"""The composition root every service's HTTP API is built with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from shared import collector, health, operations, projection, reactions
from shared.auth import public, publish_rules
from shared.db import client_name, create_pool
from shared.edge import Edge
from shared.events import EventRegistry
from shared.freshness import Freshness
from shared.http import install_error_handlers
from shared.inputs import Refusal
from shared.openapi import document_errors
from shared.projection import Projection
from shared.ratelimit import RateLimits
from shared.reactions import Agent, HandlerFactory, Periodic, Reaction
from shared.repository import Repository
from shared.settings import Settings, get_settings
from shared.store import EventStore

CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]


@dataclass
class ServiceSpec:
    """Everything the platform needs to know about a service, declared once in its
    `services/<name>/app.py` as `SPEC`. Its API, relay and worker, `jiedao rebuild`,
    `jiedao health`, `/health` and readiness all read it; `deploy/registry.py` lists it.
    Every service has an event store (schema `name`), so a relay publishing it to its topic."""

    name: str  # also the event store's schema, the event `source` and its topic's name
    title: str
    registry: EventRegistry
    routers: list[APIRouter]
    # Read models fed from its own topic; a rebuild replays its own store into them.
    projections: list[Projection] = field(default_factory=list)
    # Read models learnt from other services' topics, by service name (replicas): never
    # rebuilt from this service's store.
    consumes: dict[str, list[Projection]] = field(default_factory=dict)
    # Modules that must import no infrastructure (checked by import-linter, pyproject.toml).
    domain: list[str] = field(default_factory=list)
    # Puts handler contexts and views on app.state once the pool and store exist.
    attach: Callable[[Any, asyncpg.Pool, Settings], None] = lambda state, pool, settings: None
    # Path prefixes whose errors have their own format (e.g. Open311's), with how the input
    # gate refuses a request there; their routers declare their own error responses.
    error_formats: dict[str, Refusal] = field(default_factory=dict)
    # Files only its API may read, by the setting naming them: setting -> secret name
    # (docker-compose.yml mounts the secret at /run/secrets/<name> for that API alone).
    secrets: dict[str, str] = field(default_factory=dict)
    # Reactions, by the service whose topic they read (its own included): events turned into
    # commands on this service's own store, by its worker (shared/reactions.py).
    reactions: dict[str, list[Reaction]] = field(default_factory=dict)
    # Tasks its worker runs every so often (e.g. the grid's overdue check).
    periodic: list[Periodic] = field(default_factory=list)
    # The object reactions and periodic tasks act with (e.g. the grid's CaseDesk), made
    # once per worker pool from (repository on its own store, pool, settings).
    handler: HandlerFactory = lambda repository, pool, settings: None

    @property
    def replicas(self) -> list[Projection]:
        return [p for feeds in self.consumes.values() for p in feeds]

    @property
    def read_models(self) -> list[Projection]:
        """Every read model its worker keeps: its own projections, then its replicas."""
        return self.projections + self.replicas

    def feeds(self) -> list[tuple[str, Projection]]:
        """(service whose topic it reads, projection) for each of its worker's agents."""
        own = [(self.name, p) for p in self.projections]
        return own + [(source, p) for source, ps in self.consumes.items() for p in ps]

    def reaction_feeds(self) -> list[tuple[str, Reaction]]:
        """(service whose topic it reads, reaction) for each of its worker's reactions."""
        return [(source, r) for source, rs in self.reactions.items() for r in rs]

    @property
    def agents(self) -> list[Projection | Agent]:
        """Every agent its worker runs (read models, then reactions): each reports its
        progress and keeps its dead letters in `schema`, under `name`."""
        return [*self.read_models, *(Agent(self.name, r.name) for _, r in self.reaction_feeds())]

    @property
    def has_worker(self) -> bool:
        return bool(self.read_models or self.reactions or self.periodic)

    def topics_read(self) -> list[str]:
        """The services whose topics its worker reads (its own first, if it does)."""
        sources = [self.name] if self.projections else []
        for source in [*self.consumes, *self.reactions]:
            if source not in sources:
                sources.append(source)
        return sources


def create_service_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.require_database(), name=client_name(spec.name, "api"))
        store = EventStore(pool, spec.name, spec.name, linger=settings.store_linger_seconds)
        await store.setup()
        for p in spec.read_models:
            await projection.setup(pool, p)
        if spec.reactions:
            await reactions.setup(pool, spec.name)
        app.state.agents = spec.agents  # whose progress and dead letters are reported
        await health.setup(pool, app.state.agents)
        app.state.pool, app.state.store = pool, store
        app.state.settings = settings  # e.g. the dashboard's page and config read it
        app.state.repository = Repository(store, spec.registry)
        app.state.token_verifier = settings.token_verifier()
        app.state.rate_limits = RateLimits(settings.rate_limit, settings.open311_rate_limit,
                                           settings.sign_in_rate_limit)
        app.state.freshness = freshness = Freshness(store, spec.read_models)
        await freshness.start()
        spec.attach(app.state, pool, settings)
        collector.settle()
        try:
            yield
        finally:
            await freshness.close()
            await store.close()
            await pool.close()

    # No OpenTelemetry exporter is configured in jiedao yet: say so, rather than have FastAPI
    # look for one on every request.
    app = FastAPI(title=spec.title, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    install_error_handlers(app, spec.error_formats)
    # Input gate, security headers and backstop: one layer (shared/edge.py).
    app.add_middleware(Edge, refusals=spec.error_formats, max_body_bytes=settings.max_body_bytes,
                       token_url=settings.auth_token_url)
    if origins := [o.strip() for o in settings.cors_origins.split(",") if o.strip()]:
        # Outermost: a preflight is answered before anything else looks at it.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_headers=CORS_HEADERS,
                           allow_methods=["GET", "POST", "PUT", "DELETE"])
    for router in spec.routers:
        app.include_router(router)
    app.include_router(operations.router)
    app.include_router(health.health_router(spec.name, spec.agents))

    @app.get("/events/schemas", tags=["operations"])
    async def event_schemas(_: Annotated[None, public()]) -> dict[str, Any]:
        """JSON Schema of every event type this service emits."""
        return spec.registry.json_schemas()

    document_errors(app, spec.error_formats)
    publish_rules(app, settings.auth_token_url)
    return app
