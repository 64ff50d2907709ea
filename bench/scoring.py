"""The assessment scorer (issue 12's benchmark): event -> score latency at fixed event rates,
and the scorer's maximum throughput.

Starts PostgreSQL and the broker (bench/infra.py), the assessment service's workers alone
(`--workers N` processes of `python -m deploy.cli worker assessment`, one consumer group: the
topics' 4 partitions are shared among them; its ScoreFacts agents on the intake, grid,
enforcement and assessment topics, the target check every second), and produces events
straight onto those topics in the services' envelope format (bench/scoring_feed.py: shared/
kafka.py's messages, batched per partition as shared/relay.py does): a mix of consultations
recorded (intake), cases registered (grid) and enterprise visits (assessment), each a new
stream over six streets, each a valid event of its type (a run that dead-letters any says so
and fails). A run's events are built and encoded before its timed part, so the bench's own
CPU in it is sending and watching only.

- Fixed rates (open loop, a batch every 10 ms): each event's latency from when it was due to
  when its fact is committed in `assessment_view.subjects` (watched every 20 ms per partition
  with a few probes: bench/scoring_feed.py `Watch`) — a score is an aggregate over those rows
  read at request time, so the time of a /rankings read over the data at the end
  (ScoreView.rankings, median of 20) is reported beside it.
- Maximum throughput: the workers stopped, a backlog of N events produced, the workers
  started; from the first fact committed to the last, N / that time.
- CPU per event of each kind of process (workers, PostgreSQL, broker, this bench) over each
  span (psutil; PostgreSQL and the broker with their children).

Results: bench/results/scoring.json.

    .venv/bin/python -m bench.scoring                  # 1000, 2500, 5000 /s for 10 s; 50k backlog
    .venv/bin/python -m bench.scoring --workers 1,2    # the same with 1, then 2 workers
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
import psutil
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.filing import _cpu, cpu_used, tree_cpu
from bench.infra import Infra, fetch_once, machine_info, start_infra
from bench.scoring_feed import PARTITIONS, POLL_SECONDS, STREETS, Producer, Watch, build
from bench.watched import quantile_ms
from services.assessment.app import SPEC
from services.assessment.periods import Period
from services.assessment.score_view import ScoreView
from shared import projection

RESULTS = Path(__file__).parent / "results"
TOPICS = ("intake", "grid", "enforcement", "assessment")
TICK_SECONDS = 0.01
SETTLE_SECONDS = 60.0


async def at_rate(infra: Infra, producer: Producer, workers: Workers, namespace: str,
                  rate: float, seconds: float) -> dict:
    tag, total = f"r{int(rate)}-{uuid.uuid4().hex[:6]}", int(rate * seconds)
    messages = build(namespace, tag, total)
    watch, done = Watch(), asyncio.Event()
    watcher = asyncio.create_task(watch.run(infra.url, done))
    before = cpu_seconds(infra, workers)
    start, sent = time.perf_counter() + 0.2, 0
    while sent < total:
        now = time.perf_counter()
        upto = min(total, int((now - start) / TICK_SECONDS * rate * TICK_SECONDS) + 1)
        if upto > sent:
            await producer.send(messages[sent:upto])
            watch.add(messages[sent:upto])
            sent = upto
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    elapsed = time.perf_counter() - start
    settle = time.perf_counter() + SETTLE_SECONDS
    while len(watch.seen) < total and time.perf_counter() < settle:
        await asyncio.sleep(0.1)
    cpu = cpu_used(before, cpu_seconds(infra, workers))
    done.set()
    await watcher
    latencies = sorted(watch.seen[m.subject] - (start + n / rate)
                       for n, m in enumerate(messages) if m.subject in watch.seen)
    return {"offered_per_s": rate, "seconds": seconds, "events": total,
            "achieved_per_s": round(total / elapsed, 1),
            "scored": len(latencies), "never_scored": total - len(latencies),
            "p50_ms": quantile_ms(latencies, 0.5), "p99_ms": quantile_ms(latencies, 0.99),
            "max_ms": quantile_ms(latencies, 1.0), **per_event(cpu, len(latencies))}


async def backlog(infra: Infra, producer: Producer, workers: Workers, namespace: str,
                  count: int) -> dict:
    messages = build(namespace, f"max-{uuid.uuid4().hex[:6]}", count)
    workers.stop()
    t = time.perf_counter()
    for first in range(0, count, 5000):
        await producer.send(messages[first:first + 5000])
    produce_s = time.perf_counter() - t
    watch, done = Watch(), asyncio.Event()
    watch.add(messages)
    workers.start()
    watcher = asyncio.create_task(watch.run(infra.url, done))
    try:
        async with asyncio.timeout(600):
            while not watch.seen:
                await asyncio.sleep(POLL_SECONDS / 2)
            before, already = cpu_seconds(infra, workers), len(watch.seen)
            while len(watch.seen) < count:
                await asyncio.sleep(POLL_SECONDS / 2)
            cpu = cpu_used(before, cpu_seconds(infra, workers))
    finally:
        done.set()
        await watcher
    drained_s = max(watch.seen.values()) - min(watch.seen.values())
    return {"backlog": count, "produce_s": round(produce_s, 2), "drain_s": round(drained_s, 2),
            "events_per_s": round(count / drained_s, 1), **per_event(cpu, count - already)}


def cpu_seconds(infra: Infra, workers: Workers) -> dict[tuple[str, int], float]:
    """CPU time so far of the worker processes, PostgreSQL (its server and backends), the
    broker and this bench, keyed by (what it is, pid)."""
    roots = [("worker", p.pid) for p in workers.processes]
    roots += [(name, pid) for name, pid in (("postgres", infra.postgres_pid),
                                            ("broker", infra.broker_pid)) if pid is not None]
    seconds = tree_cpu(roots)
    seconds["bench", os.getpid()] = _cpu(psutil.Process())
    return seconds


def per_event(cpu: dict[str, float], events: int) -> dict:
    """CPU seconds per kind of process over a span, and per event (ms)."""
    return {"cpu_seconds": cpu, "cpu_ms_per_event": {
        name: round(1000 * seconds / max(events, 1), 3) for name, seconds in cpu.items()}}


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


class Workers:
    """`count` assessment worker processes (`deploy.cli worker assessment`); the topics'
    partitions are shared among them (one consumer group). Nothing in a worker's settings is
    per process (its web server is disabled); each gets its own data directory all the same."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.env, self.count = env, count
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        for n in range(self.count):
            env = {**self.env, "JIEDAO_DATA_DIR": f"{self.env['JIEDAO_DATA_DIR']}/worker-{n}"}
            log = Path(env["JIEDAO_DATA_DIR"])
            log.mkdir(parents=True, exist_ok=True)
            with open(log / "worker.log", "ab") as out:  # its warnings, to read after a run
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "deploy.cli", "worker", "assessment"], env=env,
                    stdout=out, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # a worker busy draining may not stop in time
                process.kill()
                process.wait(10)
        self.processes = []


async def dead_letters(url: str) -> dict[str, int]:
    """The read models' dead letters per projection (a fair run has none)."""
    rows = await fetch_once(url, "SELECT projection, count(*) FROM assessment_view.dead_letters "
                                 "GROUP BY projection")
    return {row[0]: row[1] for row in rows}


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


async def wait_ready(infra: Infra, producer: Producer, namespace: str) -> None:
    """Until the workers score an event of each topic within a second, twice running (their
    consumer group settles a while after its first events)."""
    quick = 0
    async with asyncio.timeout(300):
        while quick < 2:
            messages, t = build(namespace, f"warm-{uuid.uuid4().hex[:6]}", 3), time.perf_counter()
            watch, done = Watch(), asyncio.Event()
            watch.add(messages)
            watcher = asyncio.create_task(watch.run(infra.url, done))
            await producer.send(messages)
            while len(watch.seen) < len(messages):
                await asyncio.sleep(0.05)
            done.set()
            await watcher
            quick = quick + 1 if time.perf_counter() - t < 1.0 else 0


async def run(infra: Infra, rates: list[float], seconds: float, count: int,
              workers: int) -> dict:
    """The whole measurement with `workers` worker processes, on topics of its own."""
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    data_dir = tempfile.mkdtemp(prefix="jiedao-scoring-")
    print(f"workers' logs: {data_dir}/worker-*/worker.log", flush=True)
    env = {**os.environ, "DATABASE_URL": infra.url, "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
           "JIEDAO_NAMESPACE": namespace, "JIEDAO_DATA_DIR": data_dir,
           "JIEDAO_TOPIC_PARTITIONS": str(PARTITIONS)}
    await prepare(infra, namespace)
    running = Workers(env, workers)
    producer = Producer(infra.bootstrap)
    await producer.kafka.start()
    running.start()
    try:
        await wait_ready(infra, producer, namespace)
        runs = []
        for rate in rates:
            result = await at_rate(infra, producer, running, namespace, rate, seconds)
            print(json.dumps({"workers": workers, **result}), flush=True)
            runs.append(result)
        maximum = await backlog(infra, producer, running, namespace, count)
        print(json.dumps({"workers": workers, **maximum}), flush=True)
        read = await rankings_read(infra.url)
        print(json.dumps(read), flush=True)
    finally:
        running.stop()
        await producer.kafka.stop()
    letters = await dead_letters(infra.url)
    if letters:
        print(f"!!! DEAD LETTERS RECORDED: {letters}: events the bench produced were refused; "
              "this run is not a fair measure of the scorer !!!", file=sys.stderr, flush=True)
    return {"workers": workers, "runs": runs, "maximum": maximum, "read": read,
            "dead_letters": letters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="1000,2500,5000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--workers", default="1",
                        help="worker processes; several (e.g. 1,2) are measured one after another")
    parser.add_argument("--output", help="results file name under bench/results/")
    args = parser.parse_args()
    rates = [500.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    count = 5000 if args.quick else args.backlog
    infra = start_infra()
    try:
        found = [asyncio.run(run(infra, rates, seconds, count, int(n)))
                 for n in args.workers.split(",")]
        machine = machine_info(infra, "asyncio")
    finally:
        infra.close()
    report = {"benchmark": "assessment scorer: event -> fact committed (what a score is "
                           "aggregated from) at fixed rates; maximum throughput from a backlog",
              "floor": "5,000 events/s with p99 < 1 s",
              "machine": machine, "at": datetime.now(UTC).isoformat(), "by_workers": found}
    RESULTS.mkdir(exist_ok=True)
    name = args.output or ("scoring-quick.json" if args.quick else "scoring.json")
    (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False,
                                           default=str) + "\n")
    print(f"written to bench/results/{name}")
    if any(r["dead_letters"] for r in found):
        raise SystemExit("dead letters were recorded: see above")


if __name__ == "__main__":
    main()
