"""The simulated clock: wall-clock time plus an offset that only moves forward.

Simulated nodepools follow real time; `advance` fast-forwards (demos, tests). The offset is
persisted by the store (`Store.get_clock_offset`/`set_clock_offset`) so a restart keeps the
simulated time; pass `on_change` (e.g. ``store.set_clock_offset``) to save it on every advance.

The offset is capped at `MAX_OFFSET_SECONDS` (100 years; plenty for demos of weeks or years):
without a cap, 797 ten-year advances reached year 9991, the next one overflowed ``now()`` and
every request answered 500 until a restart. An advance past the cap is a ValueError (400).

Pinned clock (tests, demos): the simulated traffic follows the hour and weekday, so a run
that must not depend on when it happens pins the clock's start, e.g.
``COMPUTE_WIDGETS_CLOCK_START=2026-01-05T09:00:00Z`` (`Clock.from_env`). The simulated time is
then ``start + (wall now - anchor) + offset``: it still runs at wall-clock speed from the
anchor, a POSIX time given by ``COMPUTE_WIDGETS_CLOCK_ANCHOR`` (default: when the clock was
built). Processes that share both variables (a test session and the servers it starts, a
server and its restarts) share one simulated time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

MAX_ADVANCE_SECONDS = 10 * 365 * 86400.0  # one call moves at most ten years
MAX_OFFSET_SECONDS = 100 * 365 * 86400.0  # in all at most 100 years ahead (year 9999 overflows)
START_ENV = "COMPUTE_WIDGETS_CLOCK_START"
ANCHOR_ENV = "COMPUTE_WIDGETS_CLOCK_ANCHOR"
# a pinned start stays far enough from datetime's year 9999 for the whole offset
_EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_START = datetime(9000, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(
        self,
        offset_seconds: float = 0.0,
        on_change: Callable[[float], None] | None = None,
        *,
        wall: Callable[[], datetime] | None = None,
        start: datetime | str | None = None,
        anchor: float | None = None,
    ) -> None:
        """`start`: pin the simulated time to `start` at wall time `anchor` (POSIX seconds,
        default now). An offset beyond the cap, saved by an older version, is kept (the clock
        never moves back) but cannot grow; one past year 9999 is refused with a ValueError."""
        offset = float(offset_seconds)
        self._offset = offset if offset >= 0 and math.isfinite(offset) else 0.0  # NaN -> 0
        self._on_change = on_change
        self._wall = wall or (lambda: datetime.now(UTC))
        self._shift = timedelta(0)
        self._pinned = start is not None
        if start is not None:
            pinned = parse_start(start)
            at = self._wall().timestamp() if anchor is None else _parse_anchor(anchor)
            self._shift = pinned - datetime.fromtimestamp(at, UTC)
        self._lock = threading.Lock()
        try:
            self.now()
        except OverflowError:
            raise ValueError(
                f"clock offset {self._offset:.0f} s puts the simulated time past year 9999; "
                f"at most {MAX_OFFSET_SECONDS:.0f} s (100 years) is allowed"
            ) from None

    @classmethod
    def from_env(
        cls,
        offset_seconds: float = 0.0,
        on_change: Callable[[float], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Clock:
        """A clock pinned by ``COMPUTE_WIDGETS_CLOCK_START`` (and ``_ANCHOR``) when set."""
        env = os.environ if environ is None else environ
        start = env.get(START_ENV, "").strip() or None
        anchor_text = env.get(ANCHOR_ENV, "").strip()
        if anchor_text and start is None:
            raise ValueError(f"{ANCHOR_ENV} is set without {START_ENV}: set both, or neither.")
        anchor = _parse_anchor(anchor_text) if anchor_text else None
        return cls(offset_seconds, on_change, start=start, anchor=anchor)

    @property
    def offset_seconds(self) -> float:
        return self._offset

    @property
    def pinned(self) -> bool:
        return self._pinned

    def now(self) -> datetime:
        """Simulated now (tz-aware UTC)."""
        return self._wall() + self._shift + timedelta(seconds=self._offset)

    def timestamp(self) -> float:
        """Simulated now as POSIX seconds."""
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (>= 0, finite, at most ten years per call and 100 years in
        all); returns the new now. ValueError (the server's 400) says the limit."""
        s = float(seconds)
        if not (0.0 <= s <= MAX_ADVANCE_SECONDS):  # also rejects NaN
            raise ValueError(
                f"seconds must be between 0 and {MAX_ADVANCE_SECONDS:.0f} (the clock only moves "
                f"forward), got {seconds!r}"
            )
        with self._lock:
            if self._offset + s > MAX_OFFSET_SECONDS:
                left = max(0.0, MAX_OFFSET_SECONDS - self._offset)
                raise ValueError(
                    f"the clock may run at most {MAX_OFFSET_SECONDS:.0f} s (100 years) ahead of "
                    f"the wall clock; it is {self._offset:.0f} s ahead, so at most {left:.0f} "
                    f"more seconds can be advanced, got {seconds!r}"
                )
            self._offset += s
            offset = self._offset
        if self._on_change is not None:
            self._on_change(offset)
        return self.now()

    def __repr__(self) -> str:
        pin = f", pinned_shift={self._shift.total_seconds():.0f}s" if self.pinned else ""
        return f"Clock(offset_seconds={self._offset:.1f}{pin})"


def parse_start(value: datetime | str) -> datetime:
    """An RFC 3339 instant with a time zone (``2026-01-05T09:00:00Z``), 1970 to 9000."""
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{START_ENV}: give an RFC 3339 time such as 2026-01-05T09:00:00Z, got {value!r}"
            ) from None
    else:
        dt = value
    if dt.tzinfo is None:
        raise ValueError(f"{START_ENV}: add a time zone (e.g. a trailing Z for UTC) to {value!r}")
    if not (_EARLIEST_START <= dt <= _LATEST_START):
        raise ValueError(f"{START_ENV}: give a time between 1970 and 9000, got {value!r}")
    return dt.astimezone(UTC)


def _parse_anchor(value: float | str) -> float:
    try:
        at = float(value)
    except ValueError:
        at = math.nan
    if not math.isfinite(at) or at < 0:
        raise ValueError(
            f"{ANCHOR_ENV}: give the wall time as POSIX seconds (e.g. {time.time():.0f}), "
            f"got {value!r}"
        )
    return at
