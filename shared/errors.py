"""The project's own error types. Adapters translate driver errors into these; one HTTP handler
maps them all (shared/http.py)."""

from __future__ import annotations


class JiedaoError(Exception):
    """Base of every error the project raises on purpose."""


class DomainError(JiedaoError):
    """A business rule refused a command. `field` names the input at fault, where there is one."""

    status = 422

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(DomainError):
    status = 404


class WrongOrder(DomainError):
    """A step taken in the wrong order of a procedure (e.g. approving before the reviews)."""

    status = 409


class ConcurrencyConflict(JiedaoError):
    """Another writer changed the stream since the caller read it."""

    status = 409

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class StaleRead(ConcurrencyConflict):
    """A stream the decision relied on (not the one written) changed before the append: decide
    again on what it holds now. `moved` maps each such stream to its version now."""

    def __init__(self, moved: dict[str, int]) -> None:
        stream_id, actual = next(iter(moved.items()))
        super().__init__(stream_id, None, actual)
        self.args = (f"{', '.join(sorted(moved))} changed while the command was decided",)
        self.moved = moved


class IdempotencyMismatch(JiedaoError):
    """An append reused some, but not all, event ids of an earlier append."""

    status = 409


class StoreUnavailable(JiedaoError):
    status = 503


class CheckpointMoved(JiedaoError):
    """Another applier advanced a read model's checkpoint while a batch was being applied
    (shared/projection.py): the batch is undone and applied again, skipping what it applied."""
