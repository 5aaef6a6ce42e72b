"""Points in time on the wire: `rfc3339` (out) and `parse_time` (in: what a user may pass as a
time, or what a server answers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compute_widgets.api.errors import InvalidInput, Problem


def rfc3339(value: datetime) -> str:
    """`value` as RFC 3339 UTC with microseconds (naive = UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime:
    """datetime (naive = UTC), pandas.Timestamp or an ISO 8601 / RFC 3339 string -> aware UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            out = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                [Problem("time", f"time must be ISO 8601 like 2026-11-28T10:00:00Z, got {value!r}")]
            ) from None
        return out if out.tzinfo else out.replace(tzinfo=UTC)
    raise InvalidInput([Problem("time", f"time must be a datetime or ISO string, got {value!r}")])
