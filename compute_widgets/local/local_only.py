"""The local-only handlers (/local/*): health, serving stats and the simulated clock."""

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


def health(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {
        "version": plane.version,
        "now": st.rfc3339(plane.clock.now()),
        "metrics": plane.metrics is not None,
    }


def serving_stats(plane: Plane, rq: Rq) -> dict[str, Any]:
    """GET /local/stats: the event loop's longest stall, connections, simulator warm-up."""
    return plane.serving.stats() if plane.serving is not None else {}


def get_clock(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {"now": st.rfc3339(plane.clock.now()), "offset_seconds": plane.clock.offset_seconds}


def advance_clock(plane: Plane, rq: Rq) -> dict[str, Any]:
    seconds = rq.body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, str)):
        raise Fail(C.BAD_REQUEST, f"seconds: give a number of seconds >= 0, got {seconds!r}.")
    try:
        plane.clock.advance(float(seconds))
    except ValueError as e:
        raise Fail(C.BAD_REQUEST, f"seconds: {e}.") from None
    plane.store.set_clock_offset(plane.clock.offset_seconds)
    return get_clock(plane, rq)
