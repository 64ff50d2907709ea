"""Personal data in read APIs: ID numbers and phone numbers are shown in full only to those
whose work needs them (who, each service's read API says); everyone else sees them masked,
`5101**********1234`: the first 4 and last 4 characters kept, `*` between."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KEPT = 4  # characters kept at each end


def mask(value: str | None) -> str | None:
    """`510108198001011234` -> `5101**********1234`; a value too short to keep both ends of
    is masked whole."""
    if value is None:
        return None
    if len(value) <= 2 * KEPT:
        return "*" * len(value)
    return value[:KEPT] + "*" * (len(value) - 2 * KEPT) + value[-KEPT:]


def masked(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """`row` with each of `fields` it holds masked."""
    shown = dict(row)
    for name in fields:
        if name in shown:
            shown[name] = mask(shown[name])
    return shown
