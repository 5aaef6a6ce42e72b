"""Turn long series into the few points a figure needs.

- Continuous series (utilisation, latency, queue, cumulative cost): tsdownsample MinMaxLTTB to
  at most ``n_out`` points, plus the global min and max (LTTB alone may drop one of them).
- Piecewise-constant series (node counts, desired, min/max): the points where the value changes
  plus the last sample of each run, drawn with ``line_shape="hv"``. Exact: expanding them back
  (last point at or before t) reproduces every original sample. Keeping the run ends (not just the
  change points) makes plotly's nearest-point hover show the right value inside long flat runs.

Indices are returned, so callers can take x (as epoch milliseconds) and several y columns at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_POINTS = 2000  # per trace (autoscaling.md §5: ~1-2 k per visible range)


def as_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC), whatever the index's unit."""
    if index.tz is None:
        index = index.tz_localize("UTC")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def ns_to_ms(x_ns: np.ndarray) -> np.ndarray:
    """Epoch milliseconds as float64: plotly date axes take them as-is, and they serialise as
    base64 (~11 bytes/point) instead of ISO strings (~27 bytes/point)."""
    return np.asarray(x_ns, dtype=np.float64) / 1e6


def change_points(y: np.ndarray, *, run_ends: bool = False) -> np.ndarray:
    """Indices where ``y`` changes value (always the first and last sample).

    With ``run_ends`` also the last sample of every run (just before each change)."""
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a, b = y[1:], y[:-1]
    diff = (a != b) & ~(np.isnan(a) & np.isnan(b)) if y.dtype.kind == "f" else a != b
    starts = np.flatnonzero(diff) + 1
    parts = [np.array([0, n - 1]), starts]
    if run_ends:
        parts.append(starts - 1)
    return np.unique(np.concatenate(parts)).astype(np.int64)


def expand_steps(x_points, y_points, x) -> np.ndarray:
    """Re-expand a step series sent as change points onto ``x`` (the value of the last point at
    or before each x). Used by tests to prove the encoding is exact."""
    x_points = np.asarray(x_points)
    pos = np.searchsorted(x_points, np.asarray(x), side="right") - 1
    return np.asarray(y_points)[np.clip(pos, 0, None)]


def minmax_lttb(x_ns: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """MinMaxLTTB indices (<= n_out, sorted) that always include the global min and max."""
    n = len(y)
    if n <= n_out:
        return np.arange(n, dtype=np.int64)
    from tsdownsample import MinMaxLTTBDownsampler

    y64 = np.ascontiguousarray(y, dtype=np.float64)
    idx = MinMaxLTTBDownsampler().downsample(
        np.ascontiguousarray(x_ns, dtype=np.int64), y64, n_out=max(n_out - 2, 4), minmax_ratio=4
    )
    extremes = np.array([int(np.argmin(y64)), int(np.argmax(y64))])
    return np.unique(np.concatenate([idx.astype(np.int64), extremes]))


def minmax(y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """Per-bin min and max indices (keeps every spike; used when a step series has more change
    points than the budget)."""
    n = len(y)
    if n <= n_out:
        return np.arange(n, dtype=np.int64)
    from tsdownsample import MinMaxDownsampler

    n_even = max((n_out - 2) // 2 * 2, 4)
    idx = MinMaxDownsampler().downsample(np.ascontiguousarray(y, dtype=np.float64), n_out=n_even)
    return np.unique(np.concatenate([idx.astype(np.int64), [0, n - 1]]))


def reduce_indices(
    x_ns: np.ndarray, ys: list[np.ndarray], mode: str, n_out: int = MAX_POINTS
) -> tuple[np.ndarray, bool]:
    """One shared index set for one or more series (stacked traces need a common x).

    mode: "step" (change points, exact), "line" (MinMaxLTTB) or "auto" (step when the change
    points fit the budget, else line). Returns (indices, is_step)."""
    n = len(x_ns)
    if n == 0:
        return np.zeros(0, dtype=np.int64), mode != "line"
    if mode in ("step", "auto"):
        for run_ends in (True, False):
            idx = np.unique(np.concatenate([change_points(y, run_ends=run_ends) for y in ys]))
            if len(idx) <= n_out:
                return idx, True
        if mode == "step":  # too many changes for the budget: keep every spike, still drawn hv
            per = max(n_out // len(ys), 8)  # each set <= per, so the union <= n_out
            idx = np.unique(np.concatenate([minmax(y, per) for y in ys]))
            return idx, True
    per = max(n_out // len(ys), 8)
    idx = np.unique(np.concatenate([minmax_lttb(x_ns, y, per) for y in ys]))
    return idx, False
