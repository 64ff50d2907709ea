"""Rate limits per caller, with the `limits` library (moving window, in this process's memory):
per signed-in user (`JIEDAO_RATE_LIMIT`, counted in shared/auth.py once the token is verified)
and per Open311 API key (`JIEDAO_OPEN311_RATE_LIMIT`, counted by the key check). Over a limit:
429 with `Retry-After` (seconds), in the one error shape.

The count is per API process: N processes allow N times the rate, so production also puts a
shared limit at its gateway. One `RateLimits` per process, made in the composition root and
kept on `app.state.rate_limits`."""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException


class RateLimited(HTTPException):
    """Too many requests from one caller. An HTTP refusal rather than a domain error, so that
    every route passes it to the app's handler, Open311's own-format routes too."""

    def __init__(self, what: str, limit: str, retry_after: int) -> None:
        super().__init__(429, f"too many requests from this {what} (limit {limit}); retry "
                              f"after {retry_after} s", headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def parse_limit(text: str) -> list[RateLimitItem]:
    """`600/minute`, or several at once (`20/second;600/minute`); ValueError if malformed."""
    return parse_many(text)


class RateLimits:
    def __init__(self, per_user: str, per_api_key: str) -> None:
        self.per_user, self.per_api_key = per_user, per_api_key
        self._user, self._api_key = parse_limit(per_user), parse_limit(per_api_key)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def user(self, user_id: str) -> None:
        """Count one request by this signed-in user; RateLimited (429) when over the limit."""
        self._hit(self._user, "user", user_id, self.per_user)

    def api_key(self, api_key: str) -> None:
        """Count one request with this Open311 API key; RateLimited (429) when over the limit."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()  # no key kept in memory as given
        self._hit(self._api_key, "api_key", digest, self.per_api_key)

    def _hit(self, items: list[RateLimitItem], kind: str, who: str, limit: str) -> None:
        for item in items:  # (as flask-limiter: windows before the refusing one count it)
            if not self._limiter.hit(item, kind, who):
                free_at = self._limiter.get_window_stats(item, kind, who).reset_time
                raise RateLimited(kind.replace("_", " "), limit,
                                  max(1, math.ceil(free_at - time.time())))
