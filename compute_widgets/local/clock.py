"""The simulated clock: wall-clock time plus an offset that only moves forward.

Simulated nodepools follow real time; `advance` fast-forwards (demos, tests). The offset is
persisted by the store (`Store.get_clock_offset`/`set_clock_offset`) so a restart keeps the
simulated time; pass `on_change` (e.g. ``store.set_clock_offset``) to save it on every advance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

MAX_ADVANCE_SECONDS = 10 * 365 * 86400.0  # one call moves at most ten years


class Clock:
    def __init__(
        self,
        offset_seconds: float = 0.0,
        on_change: Callable[[float], None] | None = None,
        *,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self._offset = float(offset_seconds)
        self._on_change = on_change
        self._wall = wall or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def now(self) -> datetime:
        """Simulated now (tz-aware UTC)."""
        return self._wall() + timedelta(seconds=self._offset)

    def timestamp(self) -> float:
        """Simulated now as POSIX seconds."""
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (>= 0, finite, at most ten years); returns the new now."""
        s = float(seconds)
        if not (0.0 <= s <= MAX_ADVANCE_SECONDS):  # also rejects NaN
            raise ValueError(
                f"seconds must be between 0 and {MAX_ADVANCE_SECONDS:.0f} (the clock only moves "
                f"forward), got {seconds!r}"
            )
        with self._lock:
            self._offset += s
            offset = self._offset
        if self._on_change is not None:
            self._on_change(offset)
        return self.now()

    def __repr__(self) -> str:
        return f"Clock(offset_seconds={self._offset:.1f})"
