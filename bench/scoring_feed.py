"""What bench/scoring.py feeds the assessment worker and how it sees the results: valid
events of the services' types, built and encoded before a timed run, sent in record batches per
partition as the relay does, and a watcher that tells when each one's fact is committed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from services.assessment import events as assessment_events
from services.assessment.events import EnterpriseVisited
from services.grid import events as grid_events
from services.grid.case_events import CaseRegistered
from services.intake import events as intake_events
from services.intake.events import ConsultationRecorded
from shared.envelope import GENESIS_HASH, Envelope, seal
from shared.events import DomainEvent
from shared.kafka import to_message

STREETS = [f"b{n}" for n in range(1, 7)]
PARTITIONS = 4
POLL_SECONDS = 0.02


def event(kind: int, tag: str, n: int) -> tuple[str, Envelope]:
    """(topic's service, envelope) of the n-th event of a run: a new stream each, a valid
    event of its type (as its service would append it: its registry's data and scope)."""
    street, now, ident = STREETS[n % len(STREETS)], datetime.now(UTC), f"{tag}-{n}"
    place = {"street_id": street, "community_id": f"{street}-c1"}
    if kind == 0:
        source, stream, registry = "intake", f"consultation-{ident}", intake_events.registry
        fact: DomainEvent = ConsultationRecorded(
            consultation_id=ident, **place, topic="社保卡办理 social security card",
            matter_code=None, answer="携带身份证到社区服务站 bring an ID card",
            answered_by="clerk-1")
    elif kind == 1:
        source, stream, registry = "grid", f"case-{ident}", grid_events.registry
        fact = CaseRegistered(
            case_id=ident, **place, grid_id=f"{street}-c1-g1", source="patrol",
            category="sanitation", urgency="normal", description="垃圾堆放 rubbish left out",
            location={"lon": 104.06, "lat": 30.67}, address="建设北路二段4号", photos=[],
            problem_id=None, reporter_user_id=None, duplicate_candidates=[], registered_at=now)
    else:
        source, stream, registry = "assessment", f"visit-{ident}", assessment_events.registry
        fact = EnterpriseVisited(visit_id=ident, street_id=street, enterprise="成华制造有限公司",
                                 purpose="政策解读 policy explained", visited_on=now.date(),
                                 recorded_by="subcentre-clerk")
    envelope = seal(registry.to_new_event(fact), source=source, stream_id=stream,
                    stream_version=1, prev_hash=GENESIS_HASH)
    envelope.position = n
    return source, envelope


def subject_of(n: int, tag: str) -> str:
    kind = ("consultation", "case", "visit")[n % 3]
    return f"{kind}:{tag}-{n}"


@dataclass(frozen=True)
class Message:
    """An event ready to send: its topic, partition and encoded record, and its fact's id."""

    topic: str
    partition: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    subject: str


def build(namespace: str, tag: str, count: int) -> list[Message]:
    """The run's events sealed and encoded (before its timed part: the bench's own CPU would
    compete with the scorer's on this machine's two cores)."""
    partitioner, partitions, built = DefaultPartitioner(), list(range(PARTITIONS)), []
    for n in range(count):
        source, envelope = event(n % 3, tag, n)
        m = to_message(envelope)
        built.append(Message(f"{namespace}.{source}", partitioner(m.key, partitions, partitions),
                             m.key, m.value, list(m.headers.items()), subject_of(n, tag)))
    return built


class Producer:
    """Ready messages onto their topics, one record batch per partition per call."""

    def __init__(self, bootstrap: str) -> None:
        self.kafka = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)

    async def send(self, messages: list[Message]) -> None:
        batches: dict[tuple[str, int], Any] = {}
        acks = []
        for m in messages:
            batch = batches.get((m.topic, m.partition))
            if batch is None or batch.append(key=m.key, value=m.value, timestamp=None,
                                             headers=m.headers) is None:
                if batch is not None:
                    acks.append(await self.kafka.send_batch(batch, m.topic,
                                                            partition=m.partition))
                batch = batches[(m.topic, m.partition)] = self.kafka.create_batch()
                batch.append(key=m.key, value=m.value, timestamp=None, headers=m.headers)
        for (topic, partition), batch in batches.items():
            acks.append(await self.kafka.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*acks)


class Watch:
    """When each sent event's fact is committed in `assessment_view.subjects`, told cheaply.

    The events of one Kafka partition are applied in offset order (one worker reads a
    partition; a batch commits in one transaction), so once an event's fact is seen, every
    earlier event of its partition is committed too. Each poll (every `POLL_SECONDS`) looks
    up, per (topic, partition), a few probes: the oldest pending event and the ones 1, 3, 7,
    15, ... further, and the newest; everything up to the furthest probe seen is marked seen
    at that poll's time. One query of ~a dozen ids per partition instead of thousands: the
    watcher does not load the database it measures. A fact committed just past the furthest
    probe seen is marked at the next poll (up to one poll late)."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, int], list[str]] = {}  # subjects in offset order
        self.first: dict[tuple[str, int], int] = {}  # the ones before it are all seen
        self.seen: dict[str, float] = {}

    def add(self, messages: list[Message]) -> None:
        """After `messages` were sent (in this order)."""
        for m in messages:
            self.sent.setdefault((m.topic, m.partition), []).append(m.subject)
            self.first.setdefault((m.topic, m.partition), 0)

    def probes(self) -> dict[str, tuple[tuple[str, int], int]]:
        found = {}
        for tp, subjects in self.sent.items():
            first, step = self.first[tp], 1
            while first + step - 1 < len(subjects):
                found[subjects[first + step - 1]] = (tp, first + step - 1)
                step *= 2
            if first < len(subjects):
                found[subjects[-1]] = (tp, len(subjects) - 1)
        return found

    async def poll(self, con: asyncpg.Connection) -> None:
        probes = self.probes()
        if not probes:
            return
        rows = await con.fetch("SELECT subject_id FROM assessment_view.subjects "
                               "WHERE subject_id = ANY($1::text[])", list(probes))
        now, furthest = time.perf_counter(), {}
        for row in rows:
            tp, index = probes[row[0]]
            furthest[tp] = max(furthest.get(tp, -1), index)
        for tp, index in furthest.items():
            for subject in self.sent[tp][self.first[tp]:index + 1]:
                self.seen[subject] = now
            self.first[tp] = index + 1

    async def run(self, url: str, done: asyncio.Event) -> None:
        con = await asyncpg.connect(url)
        try:
            while not done.is_set():
                await self.poll(con)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await con.close()
