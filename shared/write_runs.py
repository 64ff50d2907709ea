"""How a read model's writes are sent: grouped into runs, each run one round trip.

A projection's writes are `Statement`s (SQL and its arguments; a run of them is one
`executemany`) or `Rows` (one row of scalars for SQL that takes one array per column; a run of
them is one execution, the rows transposed into the arrays). shared/projection.py uses this.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from shared.envelope import Envelope

Statement = tuple[str, tuple[Any, ...]]  # SQL and its arguments


@dataclass(frozen=True)
class Rows:
    """One row of a set-based write. `sql` takes one array per column (`INSERT ... SELECT *
    FROM unnest($1::text[], $2::date[])`, `UPDATE ... FROM unnest(...) AS v(...) WHERE ...`);
    `row` holds this event's scalars, one per array. Consecutive `Rows` with the same SQL are
    sent as one execution, their rows transposed into the arrays, except that two rows with the
    same `key` (the row they write: an `UPDATE ... FROM unnest` with two rows for one target
    applies either) never share an execution: the second starts the next one."""

    sql: str
    row: tuple[Any, ...]
    key: str


Write = Statement | Rows


def unnest(columns: Iterable[tuple[str, str]]) -> str:
    """`unnest($1::text[], ...) AS v(<names>)` for (name, SQL type) pairs: the arrays of a
    `Rows` SQL, one per column, read as `v.<name>`."""
    names, types = zip(*columns, strict=True)
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=1))
    return f"unnest({arrays}) AS v({', '.join(names)})"


def insert(table: str, row: Mapping[str, tuple[str, Any]], *, key: str,
           conflict: str) -> Rows:
    """One row of a set-based `INSERT INTO table ... ON CONFLICT <conflict> DO NOTHING`: `row`
    maps each column to its SQL type and value."""
    columns = tuple((name, sql_type) for name, (sql_type, _) in row.items())
    return Rows(_insert_sql(table, columns, conflict), tuple(v for _, v in row.values()), key)


@cache
def _insert_sql(table: str, columns: tuple[tuple[str, str], ...], conflict: str) -> str:
    names = ", ".join(name for name, _ in columns)
    return (f"INSERT INTO {table} ({names}) SELECT * FROM {unnest(columns)} "
            f"ON CONFLICT {conflict} DO NOTHING")


class Run(NamedTuple):
    """Writes sent as one: `executemany` of `rows` (or one `execute`), or when `arrays` (a run
    of `Rows`) one `execute` with the rows transposed into one array per column."""

    sql: str
    rows: list[tuple[Any, ...]]
    arrays: bool = False


def runs(statements: Iterable[Write]) -> list[Run]:
    """Consecutive writes with the same SQL, grouped (a `Rows` key at most once per run); the
    order is kept."""
    grouped: list[Run] = []
    keys: set[str] = set()  # of the last run's rows, when it is a run of Rows
    for write in statements:
        if _joins(grouped[-1] if grouped else None, write, keys):
            grouped[-1].rows.append(_args(write))
        else:
            grouped.append(Run(_sql(write), [_args(write)], isinstance(write, Rows)))
            keys = set()
        if isinstance(write, Rows):
            keys.add(write.key)
    return grouped


def stream_runs(writes: list[tuple[Envelope, list[Write]]]) -> list[Run]:
    """Runs of the same SQL taken across streams, each stream's writes in their order: the
    next run is the SQL at the head of the first stream with writes left (a `Rows` key at most
    once per run)."""
    queues: dict[str, deque[Write]] = {}
    for event, statements in writes:
        queues.setdefault(event.stream_id, deque()).extend(statements)
    queues = {sid: q for sid, q in queues.items() if q}
    grouped: list[Run] = []
    while queues:
        head = next(iter(queues.values()))[0]
        run, keys = Run(_sql(head), [], isinstance(head, Rows)), set()
        for sid, queue in list(queues.items()):
            while queue and (not run.rows or _joins(run, queue[0], keys)):
                write = queue.popleft()
                run.rows.append(_args(write))
                if isinstance(write, Rows):
                    keys.add(write.key)
            if not queue:
                del queues[sid]
        grouped.append(run)
    return grouped


def _joins(run: Run | None, write: Write, keys: set[str]) -> bool:
    if run is None or run.sql != _sql(write) or run.arrays != isinstance(write, Rows):
        return False
    return not isinstance(write, Rows) or write.key not in keys


def _sql(write: Write) -> str:
    return write.sql if isinstance(write, Rows) else write[0]


def _args(write: Write) -> tuple[Any, ...]:
    return write.row if isinstance(write, Rows) else write[1]
