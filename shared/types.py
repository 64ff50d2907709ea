"""The input types every command model uses: stable codes, names and free text. Text admits
no control characters but tab and newline (the edge refuses them too: shared/inputs.py), so
whatever a command carries, the event store and every read model can hold."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

NO_CONTROLS = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"  # tab and newline allowed, CR not
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"

Code = Annotated[str, Field(
    min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
    description="Stable lowercase code, e.g. `jianshelu` or `jianshelu.dianzikeda.g01`",
)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=ONE_LINE,
                            description="A person's or place's name, one line")]
NameEn = Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE)]
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROLS,
                            description="Free text; no control characters but tab and newline")]
Note = Annotated[str, Field(max_length=500, pattern=NO_CONTROLS,
                            description="Optional free text (may be empty)")]
LongText = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_CONTROLS)]
Identifier = Annotated[str, Field(min_length=4, max_length=32, pattern=ONE_LINE)]
# JSON's own types only: pydantic's lax mode would also take 0/1/"yes" for a boolean, "5" or
# true for a number, where the API's schema promises to refuse them.
Flag = Annotated[bool, Field(strict=True)]
Whole = Annotated[int, Field(strict=True)]
Number = Annotated[float, Field(strict=True)]



def _iso_date_only(value: Any) -> Any:
    """pydantic would also read `0` or `1700000000` as a date (a Unix time); a day is sent as
    YYYY-MM-DD only."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_date_only)]

ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})")


def _iso_moment_only(value: Any) -> Any:
    """pydantic would also read `0.5` or `1700000000` as a time (a Unix time); a moment is
    sent as ISO 8601 with its offset only."""
    if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
        return value
    if isinstance(value, datetime):
        return value
    raise ValueError("a time is written ISO 8601 with its offset, e.g. 2026-11-25T09:00:00+08:00")


def _in_reach(value: datetime) -> datetime:
    """Far years are refused: one near 9999 in a negative offset is year 10000 in UTC, which
    Python (and so every read model's driver) cannot hold."""
    if not 1900 <= value.year <= 2999:
        raise ValueError("a time between the years 1900 and 2999")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_moment_only), AfterValidator(_in_reach)]


class Command(BaseModel):
    """Base of every command model: unknown fields are refused, a command never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
