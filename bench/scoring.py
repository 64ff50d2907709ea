"""The assessment scorer (issue 12's benchmark): event -> score latency at fixed event rates,
and the scorer's maximum throughput.

Starts PostgreSQL and the broker (bench/infra.py), the assessment service's worker alone
(`python -m deploy.cli worker assessment`: its ScoreFacts agents on the intake, grid,
enforcement and assessment topics, the target check every second), and produces events
straight onto those topics in the services' envelope format (shared/kafka.py, batched per
partition as shared/relay.py does): a mix of consultations recorded (intake), cases registered
(grid) and enterprise visits (assessment), each a new stream, over six streets.

- Fixed rates (open loop, a batch every 10 ms): each event's latency from when it was due to
  when its fact is committed in `assessment_view.subjects` (watched every 20 ms, the oldest
  2,000 pending looked up each time, so a backlog's later events count late) — a score is
  an aggregate over those rows read at request time, so the time of a /rankings read over the
  data at the end (ScoreView.rankings, median of 20) is reported beside it.
- Maximum throughput: the worker stopped, a backlog of N events produced, the worker started;
  from the first fact committed to the last, N / that time.

Results: bench/results/scoring.json.

    .venv/bin/python -m bench.scoring                  # 1000, 2500, 5000 /s for 10 s; 50k backlog
    .venv/bin/python -m bench.scoring --quick          # 500/s for 3 s; 5k backlog
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from bench.infra import Infra, machine_info, start_infra
from bench.watched import quantile_ms
from services.assessment.app import SPEC
from services.assessment.periods import Period
from services.assessment.score_view import ScoreView
from shared import projection
from shared.envelope import GENESIS_HASH, NewEvent, seal
from shared.kafka import to_message

RESULTS = Path(__file__).parent / "results"
STREETS = [f"b{n}" for n in range(1, 7)]
TOPICS = ("intake", "grid", "enforcement", "assessment")
PARTITIONS = 4
POLL_SECONDS = 0.02
WINDOW = 2000  # pending facts looked up per poll, oldest first
TICK_SECONDS = 0.01
SETTLE_SECONDS = 60.0


def event(kind: int, tag: str, n: int) -> tuple[str, object]:
    """(topic's service, envelope) of the n-th event of a run: a new stream each."""
    street, now, ident = STREETS[n % len(STREETS)], datetime.now(UTC), f"{tag}-{n}"
    if kind == 0:
        source, stream, type_, data = "intake", f"consultation-{ident}", \
            "intake.consultation.recorded", {"consultation_id": ident, "street_id": street}
    elif kind == 1:
        source, stream, type_, data = "grid", f"case-{ident}", "grid.case.registered", {
            "case_id": ident, "street_id": street, "registered_at": now.isoformat()}
    else:
        source, stream, type_, data = "assessment", f"visit-{ident}", \
            "assessment.enterprise.visited", {"visit_id": ident, "street_id": street,
                                              "visited_on": date.today().isoformat()}
    envelope = seal(NewEvent(type=type_, data=data, time=now), source=source, stream_id=stream,
                    stream_version=1, prev_hash=GENESIS_HASH)
    envelope.position = n
    return source, envelope


def subject_of(n: int, tag: str) -> str:
    kind = ("consultation", "case", "visit")[n % 3]
    return f"{kind}:{tag}-{n}"


class Producer:
    """Envelopes onto their services' topics, one record batch per partition per call."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.kafka = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        self.namespace = namespace
        self.partitioner = DefaultPartitioner()

    async def send(self, envelopes: list[tuple[str, object]]) -> None:
        batches: dict[tuple[str, int], object] = {}
        acks = []
        for source, e in envelopes:
            m = to_message(e)  # type: ignore[arg-type]
            topic = f"{self.namespace}.{source}"
            partition = self.partitioner(m.key, list(range(PARTITIONS)),
                                         list(range(PARTITIONS)))
            batch = batches.get((topic, partition))
            headers = list(m.headers.items())
            if batch is None or batch.append(key=m.key, value=m.value, timestamp=None,
                                             headers=headers) is None:
                if batch is not None:
                    acks.append(await self.kafka.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = self.kafka.create_batch()
                batch.append(key=m.key, value=m.value, timestamp=None, headers=headers)
        for (topic, partition), batch in batches.items():
            acks.append(await self.kafka.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*acks)


async def watch(url: str, order: list[str], seen: dict[str, float],
                done: asyncio.Event) -> None:
    """Marks when each fact of `order` (ids in due order, appended as sent) is committed."""
    con = await asyncpg.connect(url)
    first = 0  # the ids before it are all seen
    try:
        while not done.is_set():
            while first < len(order) and order[first] in seen:
                first += 1
            # Only the oldest pending ones: looking up every pending id each time loads the
            # database more than the scorer does (a later one seen late is counted late).
            pending = [s for s in order[first:first + WINDOW] if s not in seen]
            if pending:
                found = await con.fetch("SELECT subject_id FROM assessment_view.subjects "
                                        "WHERE subject_id = ANY($1::text[])", pending)
                now = time.perf_counter()
                for row in found:
                    seen[row[0]] = now
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await con.close()


async def at_rate(infra: Infra, producer: Producer, rate: float, seconds: float) -> dict:
    tag, total = f"r{int(rate)}-{uuid.uuid4().hex[:6]}", int(rate * seconds)
    due: dict[str, float] = {}
    order: list[str] = []
    seen: dict[str, float] = {}
    done = asyncio.Event()
    watcher = asyncio.create_task(watch(infra.url, order, seen, done))
    start, sent, lag = time.perf_counter() + 0.2, 0, []
    while sent < total:
        now = time.perf_counter()
        upto = min(total, int((now - start) / TICK_SECONDS * rate * TICK_SECONDS) + 1)
        if upto > sent:
            batch = [event(n % 3, tag, n) for n in range(sent, upto)]
            for n in range(sent, upto):
                due[subject_of(n, tag)] = start + n / rate
                order.append(subject_of(n, tag))
            await producer.send(batch)
            lag.append(time.perf_counter() - (start + (upto - 1) / rate))
            sent = upto
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    elapsed = time.perf_counter() - start
    settle = time.perf_counter() + SETTLE_SECONDS
    while len(seen) < len(due) and time.perf_counter() < settle:
        await asyncio.sleep(0.1)
    done.set()
    await watcher
    latencies = sorted(seen[s] - d for s, d in due.items() if s in seen)
    return {"offered_per_s": rate, "seconds": seconds, "events": total,
            "achieved_per_s": round(total / elapsed, 1),
            "scored": len(latencies), "never_scored": total - len(latencies),
            "p50_ms": quantile_ms(latencies, 0.5), "p99_ms": quantile_ms(latencies, 0.99),
            "max_ms": quantile_ms(latencies, 1.0)}


async def backlog(infra: Infra, producer: Producer, worker: Worker, count: int) -> dict:
    tag = f"max-{uuid.uuid4().hex[:6]}"
    worker.stop()
    t = time.perf_counter()
    for first in range(0, count, 5000):
        await producer.send([event(n % 3, tag, n) for n in range(first, min(count, first + 5000))])
    produce_s = time.perf_counter() - t
    worker.start()
    con = await asyncpg.connect(infra.url)
    like = f"%:{tag}-%"
    try:
        async with asyncio.timeout(600):
            while not await con.fetchval("SELECT count(*) FROM assessment_view.subjects "
                                         "WHERE subject_id LIKE $1", like):
                await asyncio.sleep(0.05)
            first_seen = time.perf_counter()
            while (n := await con.fetchval("SELECT count(*) FROM assessment_view.subjects "
                                           "WHERE subject_id LIKE $1", like)) < count:
                await asyncio.sleep(0.1)
            drained_s = time.perf_counter() - first_seen
    finally:
        await con.close()
    return {"backlog": count, "produce_s": round(produce_s, 2), "drain_s": round(drained_s, 2),
            "events_per_s": round(n / drained_s, 1)}


async def rankings_read(url: str) -> dict:
    pool = await asyncpg.create_pool(url)
    try:
        view, period = ScoreView(pool), Period.parse(date.today().strftime("%Y-%m"))
        times = []
        for _ in range(20):
            t = time.perf_counter()
            await view.rankings(period)
            times.append(time.perf_counter() - t)
        subjects = await pool.fetchval("SELECT count(*) FROM assessment_view.subjects")
    finally:
        await pool.close()
    return {"rankings_read_median_ms": round(statistics.median(times) * 1000, 1),
            "subjects": subjects}


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.process = env, None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "deploy.cli", "worker",
                                         "assessment"], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:  # a worker busy draining may not stop in time
                self.process.kill()
                self.process.wait(10)
            self.process = None


async def prepare(infra: Infra, namespace: str) -> None:
    """Topics, the worker's tables, the six streets and a scheme of each kind in force."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{namespace}.{t}", PARTITIONS, 1) for t in TOPICS])
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(infra.url)
    try:
        for p in SPEC.read_models:
            await projection.setup(pool, p)
        await pool.executemany("INSERT INTO assessment_view.streets VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", [(s, s, s) for s in STREETS])
        schemes = {"street_office": ("consultations_served", 1000),
                   "investment_subcentre": ("enterprises_served", 1000)}
        for kind, (indicator, target) in schemes.items():
            indicators = json.dumps([{"indicator": indicator, "weight": 100, "default_target":
                                      target, "rule": {"kind": "linear", "floor": 0}}])
            await pool.execute(
                "INSERT INTO assessment_view.schemes (scheme_id, kind, version, name_zh, "
                "name_en, indicators, status, drafted_at, approved_at) VALUES ($1, $2, 1, "
                "'基准', 'bench', $3::jsonb, 'approved', now(), now()) ON CONFLICT DO NOTHING",
                f"{kind}-v1", kind, indicators)
    finally:
        await pool.close()


async def wait_ready(infra: Infra, producer: Producer) -> None:
    """Until the worker scores an event of each topic within a second, twice running (its
    consumer group settles a while after its first events)."""
    con = await asyncpg.connect(infra.url)
    quick = 0
    try:
        async with asyncio.timeout(300):
            while quick < 2:
                tag, t = f"warm-{uuid.uuid4().hex[:6]}", time.perf_counter()
                await producer.send([event(n % 3, tag, n) for n in range(3)])
                while await con.fetchval("SELECT count(*) FROM assessment_view.subjects "
                                         "WHERE subject_id LIKE $1", f"%:{tag}-%") < 3:
                    await asyncio.sleep(0.05)
                quick = quick + 1 if time.perf_counter() - t < 1.0 else 0
    finally:
        await con.close()


async def run(infra: Infra, rates: list[float], seconds: float, count: int) -> dict:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    data_dir = tempfile.mkdtemp(prefix="jiedao-scoring-")
    env = {**os.environ, "DATABASE_URL": infra.url, "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
           "JIEDAO_NAMESPACE": namespace, "JIEDAO_DATA_DIR": data_dir,
           "JIEDAO_TOPIC_PARTITIONS": str(PARTITIONS)}
    await prepare(infra, namespace)
    worker = Worker(env)
    producer = Producer(infra.bootstrap, namespace)
    await producer.kafka.start()
    worker.start()
    try:
        await wait_ready(infra, producer)
        runs = []
        for rate in rates:
            result = await at_rate(infra, producer, rate, seconds)
            print(json.dumps(result), flush=True)
            runs.append(result)
        maximum = await backlog(infra, producer, worker, count)
        print(json.dumps(maximum), flush=True)
        read = await rankings_read(infra.url)
        print(json.dumps(read), flush=True)
    finally:
        worker.stop()
        await producer.kafka.stop()
    return {"runs": runs, "maximum": maximum, "read": read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="1000,2500,5000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=50_000)
    args = parser.parse_args()
    rates = [500.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    count = 5000 if args.quick else args.backlog
    infra = start_infra()
    try:
        found = asyncio.run(run(infra, rates, seconds, count))
        machine = machine_info(infra, "asyncio")
    finally:
        infra.close()
    report = {"benchmark": "assessment scorer: event -> fact committed (what a score is "
                           "aggregated from) at fixed rates; maximum throughput from a backlog",
              "floor": "5,000 events/s with p99 < 1 s",
              "machine": machine, "at": datetime.now(UTC).isoformat(), **found}
    RESULTS.mkdir(exist_ok=True)
    name = "scoring-quick.json" if args.quick else "scoring.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False,
                                           default=str) + "\n")
    print(f"written to bench/results/{name}")


if __name__ == "__main__":
    main()
