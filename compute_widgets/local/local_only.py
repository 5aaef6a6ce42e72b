"""The local-only handlers (/local/*): health and the simulated clock."""

from __future__ import annotations

from typing import Any

from compute_widgets.local import store as st
from compute_widgets.local.crud import (
    Plane,
)
from compute_widgets.local.wire import (
    C,
    Fail,
    Rq,
)


class LocalOnly(Plane):
    """Routes the real Clarifai API does not have."""

    # -- local-only ------------------------------------------------------------------------------

    def health(self, rq: Rq) -> dict[str, Any]:
        return {
            "version": self.version,
            "now": st.rfc3339(self.clock.now()),
            "metrics": self.metrics is not None,
        }

    def get_clock(self, rq: Rq) -> dict[str, Any]:
        return {"now": st.rfc3339(self.clock.now()), "offset_seconds": self.clock.offset_seconds}

    def advance_clock(self, rq: Rq) -> dict[str, Any]:
        seconds = rq.body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, str)):
            raise Fail(C.BAD_REQUEST, f"seconds: give a number of seconds >= 0, got {seconds!r}.")
        try:
            self.clock.advance(float(seconds))
        except ValueError as e:
            raise Fail(C.BAD_REQUEST, f"seconds: {e}.") from None
        self.store.set_clock_offset(self.clock.offset_seconds)
        return self.get_clock(rq)
