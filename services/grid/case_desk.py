"""The grid back desk's handlers whose decision reads more than the case it writes: the
grid's managers (dispatch), the territory (where a patrol's case is), the read model
`grid_view.cases` (the managers' loads, duplicates nearby, cases past their deadline), or a
second case (merge). Every other case command is one `act` in case_api.py.

The reactions call `open_from_report`, `conclude_referral` and `check_overdue`; each is
idempotent under redelivery and safe to run twice at once (the append's expected version
decides; the loser finds the work done)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg

from services.grid.case_commands import DispatchCase, MergeCase, RegisterCase, RuleOnSendBack
from services.grid.case_events import ReferralConcluded
from services.grid.cases import Case
from services.grid.domain import Grid
from services.grid.projections import VIEW_SCHEMA
from services.grid.read_api import TerritoryView
from shared.access import Place
from shared.calendar import WorkCalendar
from shared.envelope import SYSTEM, Actor, Envelope
from shared.errors import ConcurrencyConflict, DomainError, NotFound
from shared.events import DomainEvent
from shared.idempotency import Idempotency
from shared.repository import References, Repository
from shared.settings import Settings
from shared.store import AppendResult

Authorize = Callable[[Place], Actor]
HELD = ("dispatched", "handling", "sent_back")  # a handler's load: the open cases they hold
TRIES = 3
DUPLICATE_CANDIDATES = 10  # named at registration: the nearest, enough to pick a master from
METRES_PER_DEGREE = 111_320.0  # of latitude (and of longitude at the equator)
EARTH_RADIUS_M = 6_371_000.0


def new_case_id(idempotency: Idempotency | None = None) -> str:
    """`c` and 16 hex digits; from the Idempotency-Key when there is one (a retry, same id)."""
    return "c" + (idempotency.new_id() if idempotency else uuid4().hex)[:16]


@dataclass
class Prepared:
    """What a batch of reports needs from the database, read at once (`prepare_reports`)."""

    opened: set[str]  # the reports whose case is open already (a redelivery)
    duplicates: dict[str, list[str]]  # report id -> its duplicate candidates
    loads: dict[str, int]  # the open cases each manager of the reports' grids holds


@dataclass
class CaseDesk:
    """Made once per API process (services/grid/app.py); `clock` is what time it is."""

    repo: Repository
    pool: asyncpg.Pool
    territory: TerritoryView
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    duplicate_meters: float = 50.0
    schema: str = VIEW_SCHEMA
    prepared: Prepared | None = None  # for the reports of the batch the worker acts on

    # -- opening a case ---------------------------------------------------------------------

    async def register(self, command: RegisterCase, authorize: Authorize,
                       idempotency: Idempotency | None = None) -> tuple[str, AppendResult]:
        """A patrol's or a complaint's case, where its location is; dispatched at once to
        the least loaded manager of its grid (if it has one)."""
        grid = await self._locate(command.location.lon, command.location.lat)
        actor = authorize(Place.of(street=grid["street_id"], community=grid["community_id"],
                                   grid=grid["grid_id"]))
        case_id = new_case_id(idempotency)
        facts = {**command.model_dump(), "problem_id": None, "reporter_user_id": None}
        if idempotency and (done := await self._earlier(case_id, idempotency)):
            return case_id, done
        return case_id, await self._open(case_id, grid, facts, actor, idempotency=idempotency)

    async def prepare_reports(self, reports: list[Envelope]) -> None:
        """Read at once what `open_from_report` would ask of each report in turn: whether its
        case is open already, its duplicate candidates, its grid's managers' loads."""
        self.prepared = None
        ids = [r.data["problem_id"] for r in reports]
        versions = await self.repo.store.stream_versions([Case(i).stream_id for i in ids])
        todo = [r for r in reports if Case(r.data["problem_id"]).stream_id not in versions]
        references, managers = References(self.repo), set()
        for grid_id in {r.data["grid_id"] for r in todo}:
            managers.update((await references.load(Grid(grid_id))).managers)
        duplicates = await self.duplicates_of(
            [(r.data["problem_id"], r.data["problem_type"], r.data["location"]["lon"],
              r.data["location"]["lat"]) for r in todo])
        self.prepared = Prepared({i for i in ids if Case(i).stream_id in versions}, duplicates,
                                 await self.loads(sorted(managers)) if managers else {})
        for manager in managers:
            self.prepared.loads.setdefault(manager, 0)

    async def open_from_report(self, report: Envelope) -> None:
        """The case of an `intake.problem.reported` (case id = problem id); a redelivery, or
        two deliveries at once, open it once."""
        d = report.data
        case_id = d["problem_id"]
        prepared = self.prepared
        if prepared is not None and case_id in prepared.opened:
            return  # (a case, once open, stays so)
        if (prepared is None or case_id not in prepared.duplicates) and (  # not prepared
                await self.repo.load(Case(case_id))).status is not None:
            return  # (prepared, or not, two opening it at once conflict: see below)
        grid = {k: d[k] for k in ("street_id", "community_id", "grid_id")}
        actor = report.actor
        facts = {"source": "report", "category": d["problem_type"],
                 "urgency": "urgent" if d["problem_type"] == "problem.emergency" else "normal",
                 "description": d["description"], "location": d["location"],
                 "address": d["address"], "photos": [], "problem_id": case_id,
                 "reporter_user_id": actor.user_id if actor.role == "resident"
                 and not actor.user_id.startswith("open311:") else None}
        try:
            await self._open(case_id, grid, facts, SYSTEM, correlation_id=report.correlation_id)
        except ConcurrencyConflict:
            if (await self.repo.load(Case(case_id))).status is None:
                raise  # not opened by a twin delivery: a real conflict, try again later

    async def _open(self, case_id: str, grid: dict[str, str], facts: dict[str, Any],
                    actor: Actor, **save: Any) -> AppendResult:
        location = facts["location"]
        prepared = self.prepared.duplicates if self.prepared else {}
        duplicates = prepared[case_id] if case_id in prepared else \
            await self.duplicate_candidates(facts["category"], location["lon"], location["lat"])

        async def attempt(references: References) -> AppendResult:
            case, at = Case(case_id), self.clock()
            events = case.register(grid=grid, duplicates=duplicates, at=at, **facts)
            case.apply(events[0])
            events += await self._auto_dispatch(case, references, at)
            case.version = 0
            return await self.repo.save(case, events, actor=actor, read=references, **save)

        return await self.repo.decide(attempt)

    async def _auto_dispatch(self, case: Case, references: References,
                             at: datetime) -> list[DomainEvent]:
        """To the least loaded manager of its grid; none: it waits, registered, for the street."""
        managers = (await references.load(Grid(case.grid_id))).managers
        if not managers:
            return []
        known = self.prepared.loads if self.prepared else {}
        loads = known if all(m in known for m in managers) else await self.loads(managers)
        handler = min(managers, key=lambda m: (loads.get(m, 0), m))
        if loads is known:
            known[handler] += 1  # the read model counts it only once it is projected
        return case.dispatch(handler, managers, by="auto", at=at, calendar=self.calendar)

    # -- the street's decisions ------------------------------------------------------------

    async def dispatch(self, case_id: str, command: DispatchCase, authorize: Authorize,
                       idempotency: Idempotency | None = None) -> AppendResult:
        """By the street: a first dispatch, or a re-dispatch (to another grid too); a
        re-dispatch keeps the deadline."""
        return await self._with_grid(
            case_id, command.grid_id, authorize, idempotency,
            lambda case, grid, target, at: case.dispatch(
                command.handler_id, grid.managers, by="street", at=at, calendar=self.calendar,
                grid=target))

    async def rule(self, case_id: str, command: RuleOnSendBack, authorize: Authorize,
                   idempotency: Idempotency | None = None) -> AppendResult:
        """The street's ruling on a send-back (upheld: to `handler_id`, deadline kept)."""
        return await self._with_grid(
            case_id, command.grid_id if command.upheld else None, authorize, idempotency,
            lambda case, grid, target, at: case.rule(
                command.upheld, command.note, at, handler_id=command.handler_id,
                managers=grid.managers, grid=target))

    async def _with_grid(
        self, case_id: str, grid_id: str | None, authorize: Authorize,
        idempotency: Idempotency | None,
        decide: Callable[[Case, Grid, dict[str, str] | None, datetime], list[DomainEvent]],
    ) -> AppendResult:
        """A decision on a case that reads its grid (or `grid_id`, where it moves): the caller
        must cover where the case is and where it goes."""
        if idempotency and (done := await self._earlier(case_id, idempotency)):
            return done

        async def attempt(references: References) -> AppendResult:
            case = (await self.repo.load(Case(case_id))).require()
            authorize(case.place())
            grid = await references.load(Grid(grid_id or case.grid_id))
            if grid.community_id is None:
                raise NotFound(f"no grid {grid.grid_id!r}", field="grid_id")
            target = {"street_id": grid.street_id, "community_id": grid.community_id,
                      "grid_id": grid.grid_id} if grid_id else None
            events = decide(case, grid, target, self.clock())
            actor = authorize(Place.of(street=grid.street_id, community=grid.community_id,
                                       grid=grid.grid_id, owner=case.reporter_user_id))
            return await self.repo.save(case, events, actor=actor, read=references,
                                        idempotency=idempotency)

        return await self.repo.decide(attempt)

    async def merge(self, case_id: str, command: MergeCase, authorize: Authorize,
                    idempotency: Idempotency | None = None) -> AppendResult:
        """The duplicate leaves the loop (`CaseMerged`, appended only if the master has not
        moved since it was read), then the master notes it (`DuplicateAttached`). The same
        merge again only makes sure the master noted it."""
        done = await self._earlier(case_id, idempotency) if idempotency else None

        async def attempt(references: References) -> AppendResult:
            duplicate = (await self.repo.load(Case(case_id))).require()
            authorize(duplicate.place())
            master = await references.load(Case(command.master_id))
            actor = authorize(master.require("master_id").place())
            again = duplicate.status == "merged" and duplicate.master_id == master.case_id
            events = [] if again else duplicate.merge_into(master, self.clock())
            return await self.repo.save(duplicate, events, actor=actor, read=references,
                                        idempotency=idempotency)

        result = done or await self.repo.decide(attempt)
        duplicate = await self.repo.load(Case(case_id))
        await self._retrying(Case(command.master_id),
                             lambda master: master.attach(duplicate, self.clock()),
                             idempotency=idempotency)
        return result

    # -- what the reactions call -----------------------------------------------------------

    async def conclude_referral(self, outcome: Envelope) -> None:
        """Enforcement's `enforcement.referral.concluded` resolves the referred case."""
        concluded = ReferralConcluded.model_validate(outcome.data)
        await self._retrying(Case(concluded.case_id), lambda case: case.conclude_referral(
            concluded.referral_id, concluded.outcome, concluded.summary,
            concluded.concluded_at))

    async def check_overdue(self, now: datetime | None = None) -> int:
        """Mark every open case past its deadline overdue, once per deadline; how many."""
        now = now or self.clock()
        marked = 0
        for case_id in await self._past_deadline(now):
            result = await self._retrying(Case(case_id), lambda case: case.mark_overdue(now))
            marked += bool(result.positions)
        return marked

    async def _retrying(self, case: Case, decide: Callable[[Case], list[DomainEvent]],
                        idempotency: Idempotency | None = None) -> AppendResult:
        """`decide` on the case as it is, again on a concurrent append (the system acts)."""
        for tries_left in range(TRIES - 1, -1, -1):
            try:
                return await self.repo.act(Case(case.case_id), decide,
                                           authorize=lambda _: SYSTEM, idempotency=idempotency)
            except ConcurrencyConflict:
                if not tries_left:
                    raise
        raise AssertionError("unreachable")

    async def _earlier(self, case_id: str, idempotency: Idempotency) -> AppendResult | None:
        """The first answer, if this Idempotency-Key was used on this case already."""
        stream_id = Case(case_id).stream_id
        return idempotency.earlier(stream_id, await self.repo.store.read_stream(stream_id))

    # -- what the read model tells -----------------------------------------------------------

    async def _locate(self, lon: float, lat: float) -> dict[str, str]:
        try:
            return await self.territory.locate(lon, lat)
        except NotFound:
            raise DomainError(f"no grid contains ({lon}, {lat})", field="location") from None

    async def loads(self, handlers: list[str]) -> dict[str, int]:
        """How many open cases each of `handlers` holds (grid_view.cases)."""
        rows = await self._fetch(
            f"SELECT handler_id, count(*) AS held FROM {self.schema}.cases "
            "WHERE handler_id = ANY($1::text[]) AND status = ANY($2::text[]) "
            "GROUP BY handler_id", handlers, list(HELD))
        return {r["handler_id"]: r["held"] for r in rows}

    async def duplicate_candidates(self, category: str, lon: float, lat: float) -> list[str]:
        """The nearest `DUPLICATE_CANDIDATES` open cases of `category` within
        `duplicate_meters` of the point, nearest first."""
        return (await self.duplicates_of([("", category, lon, lat)]))[""]

    async def duplicates_of(self, points: list[tuple[str, str, float, float]]
                            ) -> dict[str, list[str]]:
        """`duplicate_candidates` of many (key, category, lon, lat) in one query, by key."""
        points = list({p[0]: p for p in points}.values())  # a key asked twice: once
        dlat = self.duplicate_meters / METRES_PER_DEGREE
        scale = [max(math.cos(math.radians(lat)), 1e-6) for _, _, _, lat in points]
        # Per point, a range scan of the (category, lon, lat) index for the cases in its box,
        # nearest first by a flat-earth distance (exact enough at 50 m), a few more than are
        # named (the LIMIT also keeps the planner from flattening the lateral into a hash
        # join over every case of the category); their great-circle distance checked below.
        rows = await self._fetch(
            "SELECT r.key, c.case_id, c.lon, c.lat FROM unnest($1::text[], $2::text[], "
            "$3::float8[], $4::float8[], $5::float8[]) AS r(key, category, "
            "lon, lat, scale) CROSS JOIN LATERAL (SELECT case_id, lon, lat "
            f"FROM {self.schema}.cases c WHERE c.category = r.category "
            "AND c.status <> ALL($6::text[]) "
            "AND c.lon BETWEEN r.lon - $7 / r.scale AND r.lon + $7 / r.scale "
            "AND c.lat BETWEEN r.lat - $7 AND r.lat + $7 "
            "ORDER BY ((c.lon - r.lon) * r.scale) ^ 2 + (c.lat - r.lat) ^ 2, c.case_id "
            "LIMIT $8) c",
            [p[0] for p in points], [p[1] for p in points], [p[2] for p in points],
            [p[3] for p in points], scale, ["closed", "merged"], dlat,
            DUPLICATE_CANDIDATES + 2)
        where = {key: (lon, lat) for key, _, lon, lat in points}
        near: dict[str, list[tuple[float, str]]] = {key: [] for key in where}
        for r in rows:
            distance = metres(*where[r["key"]], r["lon"], r["lat"])
            if distance <= self.duplicate_meters:
                near[r["key"]].append((distance, r["case_id"]))
        return {key: [case_id for _, case_id in sorted(found)[:DUPLICATE_CANDIDATES]]
                for key, found in near.items()}

    async def _past_deadline(self, now: datetime) -> list[str]:
        rows = await self._fetch(
            f"SELECT case_id FROM {self.schema}.cases WHERE deadline < $1 "
            "AND status <> ALL($2::text[]) ORDER BY case_id", now, ["closed", "merged"])
        return [r["case_id"] for r in rows]

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """The read model's rows; none while its table is not made yet (a fresh store)."""
        try:
            return await self.pool.fetch(query, *args)
        except asyncpg.UndefinedTableError:
            return []


def make_case_desk(repo: Repository, pool: asyncpg.Pool, settings: Settings, *,
                   territory: TerritoryView | None = None,
                   clock: Callable[[], datetime] | None = None) -> CaseDesk:
    """The desk as a grid process makes it (the API's composition root; a worker running the
    reactions makes its own the same way, on its own pool and store)."""
    desk = CaseDesk(repo=repo, pool=pool, territory=territory or TerritoryView(pool, VIEW_SCHEMA),
                    calendar=WorkCalendar(settings.holiday_dates()),
                    duplicate_meters=settings.duplicate_meters)
    if clock is not None:
        desk.clock = clock
    return desk


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))

