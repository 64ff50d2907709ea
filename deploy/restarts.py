"""When the supervisor restarts a crashed process, and when it gives up.

A crash is retried after a backoff that doubles from `first_backoff` up to `max_backoff`; a
process that ran `healthy_after` seconds before it crashed starts again from `first_backoff`.
`max_crashes` crashes within `window` seconds mean it cannot run here: the supervisor stops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    first_backoff: float = 0.5
    max_backoff: float = 30.0
    healthy_after: float = 30.0
    max_crashes: int = 5
    window: float = 60.0


@dataclass
class CrashHistory:
    """One process's crashes, in monotonic seconds."""

    policy: RestartPolicy
    crashes: deque[float] = field(default_factory=deque)
    backoff: float = 0.0

    def crashed(self, at: float, ran_for: float) -> float | None:
        """Record a crash; the delay before the restart, or None to give up."""
        self.crashes.append(at)
        while self.crashes and self.crashes[0] < at - self.policy.window:
            self.crashes.popleft()
        if len(self.crashes) >= self.policy.max_crashes:
            return None
        if ran_for >= self.policy.healthy_after or self.backoff == 0.0:
            self.backoff = self.policy.first_backoff
        else:
            self.backoff = min(self.backoff * 2, self.policy.max_backoff)
        return self.backoff

    def summary(self) -> str:
        n = len(self.crashes)
        return f"{n} crash{'es' if n != 1 else ''} within {self.policy.window:.0f}s"
