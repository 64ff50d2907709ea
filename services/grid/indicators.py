"""The standard indicators of the back desk (GB/T 30428's evaluation; DOMAIN.md's formulas), per
grid, community or street, for a period, computed in SQL over `grid_view.cases` as of `now`.

Which cases: those registered in the period (`from` to `to`, whole days in Asia/Shanghai,
both included) in the unit; merged duplicates are out (their master is counted).

- registered: those cases;
- due (应结案): of them, the ones that had to be closed by now: closed, or past their deadline;
- postponed (延期): due cases whose deadline was postponed; they leave the indicators;
- assessed = due − postponed: the denominators;
- closed (结案), closed_on_time (按期结案), reworked (返工: failed a verification at least
  once): counted among the assessed cases, so each rate is its count over `assessed`;
- overdue (超期): cases not closed whose deadline has passed (postponed or not).

- closure_rate 结案率 = closed / (due − postponed)
- on_time_closure_rate 按期结案率 = closed_on_time / (due − postponed)
- rework_rate 返工率 = reworked / (due − postponed)
- average_handling_hours 平均处置时长 = mean over the closed cases of (closed − first dispatch),
  in hours of wall-clock time
- satisfaction 满意度 = mean of the closed cases' verification ratings (1-5);
  return_satisfaction 回访满意度 = mean of their return-visit ratings, apart.
A rate or mean with nothing to count is null.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

LOCAL = ZoneInfo("Asia/Shanghai")  # the district's days begin at midnight in Chengdu
Level = Literal["grid", "community", "street"]
COLUMN: dict[str, str] = {"grid": "grid_id", "community": "community_id", "street": "street_id"}

INDICATORS_SQL = """
WITH counted AS (
    SELECT status, on_time, rework_count, postponed, deadline, closed_at, dispatched_at,
           satisfaction, return_satisfaction,
           (status = 'closed' OR deadline < $4) AS due
    FROM {s}.cases
    WHERE {column} = $1 AND registered_at >= $2 AND registered_at < $3 AND status <> 'merged'
), assessed AS (
    SELECT * FROM counted WHERE due AND NOT postponed
), closed AS (
    SELECT * FROM assessed WHERE status = 'closed'
)
SELECT n.*,
    n.closed::float8 / nullif(n.assessed, 0) AS closure_rate,
    n.closed_on_time::float8 / nullif(n.assessed, 0) AS on_time_closure_rate,
    n.reworked::float8 / nullif(n.assessed, 0) AS rework_rate
FROM (SELECT
    (SELECT count(*) FROM counted) AS registered,
    (SELECT count(*) FROM counted WHERE due) AS due,
    (SELECT count(*) FROM counted WHERE due AND postponed) AS postponed,
    (SELECT count(*) FROM assessed) AS assessed,
    (SELECT count(*) FROM closed) AS closed,
    (SELECT count(*) FROM closed WHERE on_time) AS closed_on_time,
    (SELECT count(*) FROM assessed WHERE rework_count > 0) AS reworked,
    (SELECT count(*) FROM counted WHERE status <> 'closed' AND deadline < $4) AS overdue,
    (SELECT avg(extract(epoch FROM closed_at - dispatched_at) / 3600) FROM closed)::float8
        AS average_handling_hours,
    (SELECT avg(satisfaction) FROM closed)::float8 AS satisfaction,
    (SELECT avg(return_satisfaction) FROM closed)::float8 AS return_satisfaction
) AS n
"""


def period(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants a period of whole local days spans: [first 00:00, the day after last)."""
    start = datetime.combine(first, time(0), LOCAL)
    end = datetime.combine(last + timedelta(days=1), time(0), LOCAL)
    return start, end


async def indicators(pool: asyncpg.Pool | asyncpg.Connection, schema: str, level: Level,
                     unit_id: str, first: date, last: date,
                     now: datetime | None = None) -> dict[str, Any]:
    """The indicators of one grid, community or street for the period, as of `now`."""
    as_of = now or datetime.now(UTC)
    start, end = period(first, last)
    row = await pool.fetchrow(INDICATORS_SQL.format(s=schema, column=COLUMN[level]),
                              unit_id, start, end, as_of)
    return {"level": level, "id": unit_id, "from": first, "to": last, "as_of": as_of,
            **dict(row)}
