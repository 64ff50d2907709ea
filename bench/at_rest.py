"""What the platform costs at rest: the CPU each of its processes uses while nothing happens.

Starts the platform as `jiedao up` does (embedded PostgreSQL and broker, every service as its
own processes, the demo territory and catalogue loaded), lets it settle for 15 s, then
measures each process's CPU over 30 s with no requests at all. That cost is paid at every
load, so it is capacity the floors' rates cannot use. Variants (`--compare`, environment
settings given to the platform's processes) run one after the other, each on a fresh
platform, beside the default. Results: bench/results/at-rest.json.

    .venv/bin/python -m bench.at_rest
    .venv/bin/python -m bench.at_rest --compare JIEDAO_KAFKA_FETCH_MAX_WAIT_MS=400 \\
        --compare JIEDAO_TOPIC_PARTITIONS=1
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from datetime import UTC, datetime

from bench.filing import cpu_seconds, cpu_used, whole_platform, write_results
from bench.infra import code_version
from bench.machine import machine

SETTLE_SECONDS, MEASURED_SECONDS = 15.0, 30.0


def at_rest(settings: dict[str, str]) -> dict[str, float]:
    """Each kind of process's CPU, as a percentage of one core, on a platform at rest."""
    with ExitStack() as stack:
        env, _, _, supervisor = whole_platform(stack, "jiedao-at-rest-", **settings)
        time.sleep(SETTLE_SECONDS)
        before = cpu_seconds(supervisor.pids, env)
        time.sleep(MEASURED_SECONDS)
        used = cpu_used(before, cpu_seconds(supervisor.pids, env))
    used.pop("load generator", None)  # this process: it only sleeps
    return {name: round(100 * seconds / MEASURED_SECONDS, 1)
            for name, seconds in sorted(used.items(), key=lambda kv: -kv[1])}


def variant(text: str) -> dict[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("JIEDAO_"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a setting as JIEDAO_NAME=value")
    return {name: value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=variant, action="append", default=[],
                        metavar="JIEDAO_NAME=value", help="a variant to measure beside the "
                        "default (repeatable)")
    parser.add_argument("--output", help="results file (default: bench/results/at-rest.json)")
    args = parser.parse_args()
    runs = []
    for settings in [{}, *args.compare]:
        label = ", ".join(f"{k}={v}" for k, v in settings.items()) or "default"
        print(f"-- {label}: settling {SETTLE_SECONDS:.0f} s, measuring {MEASURED_SECONDS:.0f} s",
              flush=True)
        percent = at_rest(settings)
        total = round(sum(percent.values()), 1)
        print(f"   {total} % of one core: {percent}", flush=True)
        runs.append({"settings": settings, "percent_of_a_core": percent, "total": total})
    report = {"benchmark": "the platform at rest: CPU by process, % of one core",
              "machine": {**machine(), "code": code_version()},
              "at": datetime.now(UTC).isoformat(timespec="seconds"),
              "seconds": MEASURED_SECONDS, "runs": runs}
    write_results(report, "at-rest.json", args.output)


if __name__ == "__main__":
    main()
