"""Rate limits per caller, in this process's memory: per signed-in user (`JIEDAO_RATE_LIMIT`,
counted in shared/auth.py once the token is verified), per Open311 API key
(`JIEDAO_OPEN311_RATE_LIMIT`, counted by the key check) and per username signing in
(`JIEDAO_SIGN_IN_RATE_LIMIT`, at the accounts service's /auth/token). Over a limit: 429 with
`Retry-After` (seconds), in the one error shape.

Each limit (`600/minute`, parsed by the `limits` library) is kept as a generic cell rate
(GCRA): a caller may send the whole amount at once, then one more each period/amount. O(1) a
request and no thread: the `limits` library's memory storage starts a timer thread every 10 ms
under traffic and keeps one entry per request, which cost the filing benchmark a quarter of
the API's CPU.

The count is per API process: N processes allow N times the rate, so production also puts a
shared limit at its gateway. One `RateLimits` per process, made in the composition root and
kept on `app.state.rate_limits`."""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse_many
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
    def __init__(self, per_user: str, per_api_key: str, per_sign_in: str = "10/minute") -> None:
        self.per_user, self.per_api_key, self.per_sign_in = per_user, per_api_key, per_sign_in
        self._user = [Cells(item) for item in parse_limit(per_user)]
        self._api_key = [Cells(item) for item in parse_limit(per_api_key)]
        self._sign_in = [Cells(item) for item in parse_limit(per_sign_in)]

    def user(self, user_id: str) -> None:
        """Count one request by this signed-in user; RateLimited (429) when over the limit."""
        self._hit(self._user, "user", user_id, self.per_user)

    def api_key(self, api_key: str) -> None:
        """Count one request with this Open311 API key; RateLimited (429) when over the limit."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()  # no key kept in memory as given
        self._hit(self._api_key, "api_key", digest, self.per_api_key)

    def sign_in(self, username: str) -> None:
        """Count one sign-in attempt as `username` (password guessing meets a 429)."""
        self._hit(self._sign_in, "sign_in", username, self.per_sign_in)

    def _hit(self, limits: list[Cells], kind: str, who: str, limit: str) -> None:
        now = time.monotonic()
        wait = max(cells.wait(who, now) for cells in limits)
        if wait > 0:  # refused: counted in none of the windows
            raise RateLimited(kind.replace("_", " "), limit, max(1, math.ceil(wait)))
        for cells in limits:
            cells.take(who, now)


class Cells:
    """One limit's state per caller: when its next request would be on time (GCRA)."""

    PURGE_AT = 100_000  # callers remembered before the ones long on time again are forgotten

    def __init__(self, item: RateLimitItem) -> None:
        self.interval = item.get_expiry() / item.amount
        self.tolerance = item.get_expiry() - self.interval  # the burst: `amount` at once
        self.due: dict[str, float] = {}

    def wait(self, who: str, now: float) -> float:
        """Seconds until `who` may send one more (<= 0: now)."""
        return max(self.due.get(who, now), now) - now - self.tolerance

    def take(self, who: str, now: float) -> None:
        if len(self.due) >= self.PURGE_AT:
            self.due = {k: v for k, v in self.due.items() if v > now}
        self.due[who] = max(self.due.get(who, now), now) + self.interval
