"""Check a store against its two hash chains: per stream, and store-wide (shared/sealer.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.envelope import GENESIS_HASH
from shared.event_table import EVENT_COLUMNS, envelope_from_row
from shared.sealer import chain_step
from shared.store import EventStore


@dataclass
class AuditReport:
    events: int = 0
    seals: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


async def audit(store: EventStore, *, batch: int = 10000) -> AuditReport:
    """Recompute every event's hash and both chains; report each break found."""
    report = AuditReport()
    seals = {
        row["position"]: bytes(row["chain_hash"])
        for row in await store.pool.fetch(f"SELECT position, chain_hash FROM {store.schema}.seals")
    }
    heads: dict[str, tuple[int, bytes]] = {}
    chain, after = GENESIS_HASH, 0
    while True:
        rows = await store.pool.fetch(
            f"SELECT {EVENT_COLUMNS} FROM {store.schema}.events WHERE position > $1 "
            "ORDER BY position LIMIT $2",
            after,
            batch,
        )
        for row in rows:
            event = envelope_from_row(row)
            where = (
                f"event at position {event.position} ({event.stream_id} v{event.stream_version})"
            )
            version, last_hash = heads.get(event.stream_id, (0, GENESIS_HASH))
            if event.stream_version != version + 1:
                report.problems.append(f"{where}: follows version {version} of its stream")
            if event.prev_hash != last_hash:
                report.problems.append(f"{where}: does not chain onto the previous event")
            if event.computed_hash() != event.hash:
                report.problems.append(f"{where}: content does not match its hash")
            heads[event.stream_id] = (event.stream_version, event.hash)
            chain = chain_step(chain, event.position, event.hash)
            sealed = seals.pop(event.position, None)
            if sealed is not None:
                report.seals += 1
                if sealed != chain:
                    report.problems.append(f"store chain broken before seal at {event.position}")
                    chain = sealed  # re-anchor, so one break is reported once
            report.events += 1
            after = event.position
        if len(rows) < batch:
            break
    for position in sorted(seals):
        report.problems.append(f"seal at position {position} names an event that is missing")
    return report
