"""live_monitor: a go.FigureWidget panel refreshed by an asyncio task.

The kernel's event loop runs the task between cells, so nothing blocks: an async client is
awaited, a sync client runs in a worker thread (asyncio.to_thread). The full-resolution frame
of the last fetch is kept; on zoom (layout xaxis.range) only the visible range is re-downsampled,
the trick plotly-resampler uses (jupyter.md §1.7).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._figures import (
    _event_axis,
    _has,
    _no_data,
    count_axis,
    count_top,
    event_traces,
    events_frame,
    history_frame,
    line_trace,
    node_traces,
)
from ._reduce import MAX_POINTS, as_ns
from ._style import UTIL_STYLE, apply_layout

# (name, seconds): the finest resolution that keeps a window under ~1,000 points
_RESOLUTIONS = (
    ("10s", 10),
    ("30s", 30),
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
    ("1h", 3600),
    ("6h", 21600),
)


def _seconds(window: str | float | timedelta) -> float:
    if isinstance(window, timedelta):
        return window.total_seconds()
    if isinstance(window, int | float):
        return float(window)
    from compute_widgets.api.models import parse_duration  # the one duration grammar

    try:  # as people type it: any case, spaces between the parts ("1h 30m")
        seconds = parse_duration(re.sub(r"\s", "", str(window)).lower())
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ValueError(f"window {window!r}: use seconds or a duration like '30m', '6h', '7d'")
    return seconds


def auto_resolution(window_s: float) -> str:
    """The query resolution for a window: the finest step giving <= 1,000 points."""
    for name, sec in _RESOLUTIONS:
        if window_s / sec <= 1000:
            return name
    return _RESOLUTIONS[-1][0]


async def _call(fn: Callable, *args, **kwargs) -> Any:
    """Await an async method; run a sync one in a thread so the kernel loop stays free."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    res = await asyncio.to_thread(fn, *args, **kwargs)
    return await res if inspect.isawaitable(res) else res


def monitor_figure(
    df: pd.DataFrame | None,
    events: pd.DataFrame | None,
    *,
    title: str,
    max_points: int = MAX_POINTS,
    height: int = 620,
) -> go.Figure:
    """Nodes (stacked steps), utilization (one 0–100 % axis) and an event lane, sharing x."""
    h = history_frame(df)
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.5, 0.3, 0.2]
    )
    traces = node_traces(h, max_points)
    for t in traces:
        fig.add_trace(t, row=1, col=1)
    x_ns = as_ns(h.index)
    for col, (label, color) in UTIL_STYLE.items():
        if _has(h, col):
            fig.add_trace(
                line_trace(h, col, f"{label} util", color, "%{y:.1f} %", max_points, x_ns=x_ns),
                row=2,
                col=1,
            )
    ev_traces, lanes = event_traces(events_frame(events))
    for t in ev_traces:
        fig.add_trace(t, row=3, col=1)
    if not traces:
        _no_data(fig, "node counts")
    apply_layout(fig, title, height, uirevision="live")  # uirevision: keep zoom across updates
    fig.update_xaxes(type="date")
    fig.update_xaxes(title_text="time (UTC)", row=3, col=1)
    fig.update_yaxes(title_text="nodes", row=1, col=1)
    count_axis(fig, count_top(traces), row=1, col=1)
    fig.update_yaxes(title_text="util (%)", range=[0, 100], row=2, col=1)
    _event_axis(fig, lanes, row=3)
    return fig


class LiveMonitor:
    """A live nodepool panel. Display it (or ``.figure``) in a cell; ``.stop()`` ends refreshing.

    ``.history``/``.events`` hold the last full-resolution frames; ``.refreshes`` counts
    successful fetches; ``.last_error`` keeps the last failure (the panel title shows it too).
    """

    def __init__(
        self,
        client: Any,
        cc_id: str,
        np_id: str,
        *,
        interval: float = 5.0,
        window: str | float | timedelta = "6h",
        resolution: str | None = None,
        max_points: int = MAX_POINTS,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client, self.cc_id, self.np_id = client, cc_id, np_id
        self.interval = float(interval)
        self.window_s = _seconds(window)
        self._window_label = window if isinstance(window, str) else f"{self.window_s:.0f} s"
        self.resolution = resolution or auto_resolution(self.window_s)
        self.max_points = max_points
        self._now = now
        self.history = history_frame(None)
        self.events: pd.DataFrame | None = None
        self.refreshes = 0
        self.updated_at: datetime | None = None
        self.last_error: str | None = None
        self.view: tuple[pd.Timestamp, pd.Timestamp] | None = None  # zoomed x range, or None
        self._task: asyncio.Task | None = None
        self._redrawing = False
        self.figure = go.FigureWidget(
            monitor_figure(None, None, title=self._title("loading…"), max_points=max_points)
        )
        for ax in ("xaxis", "xaxis2", "xaxis3"):
            self.figure.layout.on_change(self._on_range, f"{ax}.range")
            self.figure.layout.on_change(self._on_autorange, f"{ax}.autorange")

    # -------------------------------------------------------------- lifecycle
    def start(self) -> LiveMonitor:
        """Start the refresh task on the running loop (a Jupyter kernel always has one)."""
        if self.running:
            return self
        loop = asyncio.get_running_loop()  # RuntimeError outside a loop: caller decides
        self._task = loop.create_task(self._run(), name=f"live_monitor {self.np_id}")
        return self

    def stop(self) -> None:
        """Stop refreshing (the panel keeps its last data)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._set_title(self._status("stopped"))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep polling: a blip must not kill the panel
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._set_title(self._status(f"error: {self.last_error}"))
            await asyncio.sleep(self.interval)

    async def refresh(self) -> None:
        """Fetch the window once and redraw (also usable without the task)."""
        end = await self._current_time()
        start = end - timedelta(seconds=self.window_s)
        hist = await _call(
            self.client.nodepool_history,
            self.cc_id,
            self.np_id,
            start,
            end,
            resolution=self.resolution,
        )
        events = None
        if hasattr(self.client, "nodepool_events"):
            events = await _call(self.client.nodepool_events, self.cc_id, self.np_id, start, end)
        self.history = history_frame(hist)
        self.events = events_frame(events)
        self.updated_at = end
        self.refreshes += 1
        self.last_error = None
        self.redraw()

    async def _current_time(self) -> datetime:
        """The backend's now: the local control plane's clock can be fast-forwarded, so ask its
        health endpoint when it reports a time; else the wall clock."""
        if self._now is not None:
            return self._now()
        health = getattr(self.client, "health", None)
        if getattr(self.client, "is_local", False) and health is not None:
            try:
                info = await _call(health)
                for key in ("now", "clock", "time"):
                    if isinstance(info, dict) and info.get(key):
                        return pd.Timestamp(info[key]).tz_convert("UTC").to_pydatetime()
            except Exception:  # fall back to the wall clock
                pass
        return datetime.now(UTC)

    # -------------------------------------------------------------- drawing
    def redraw(self) -> None:
        """Rebuild traces for the visible range from the full-resolution frames."""
        h, ev = self.history, self.events
        if self.view is not None:
            h = _slice(h, *self.view)
            if ev is not None:
                ev = ev[(ev["timestamp"] >= self.view[0]) & (ev["timestamp"] <= self.view[1])]
        new = monitor_figure(
            h, ev, title=self._title(self._status("updated")), max_points=self.max_points
        )
        fw = self.figure
        self._redrawing = True
        try:
            with fw.batch_update():
                same = [(t.type, t.name) for t in fw.data] == [(t.type, t.name) for t in new.data]
                if same:
                    for old, t in zip(fw.data, new.data, strict=True):
                        old.update(x=t.x, y=t.y, text=t.text)
                else:
                    fw.data = ()
                    fw.add_traces([t.to_plotly_json() for t in new.data])
                fw.layout.title.text = new.layout.title.text
                fw.layout.yaxis3.update(
                    tickvals=new.layout.yaxis3.tickvals,
                    ticktext=new.layout.yaxis3.ticktext,
                    range=new.layout.yaxis3.range,
                )
                fw.layout.annotations = new.layout.annotations
        finally:
            self._redrawing = False

    def _on_range(self, layout: Any, rng: Any) -> None:
        if self._redrawing or rng is None or len(rng) != 2:
            return
        view = (_to_ts(rng[0]), _to_ts(rng[1]))
        if view != self.view:
            self.view = view
            self.redraw()

    def _on_autorange(self, layout: Any, autorange: Any) -> None:
        if self._redrawing or autorange is not True or self.view is None:
            return
        self.view = None
        self.redraw()

    def _status(self, word: str) -> str:
        when = f" {self.updated_at:%H:%M:%S} UTC" if self.updated_at else ""
        return f"{word}{when}" if word == "updated" else word

    def _title(self, status: str) -> str:
        return f"Nodepool {self.np_id} · live, last {self._window_label}<br><sup>{status}</sup>"

    def _set_title(self, status: str) -> None:
        self.figure.layout.title.text = self._title(status)

    # -------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.figure._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"LiveMonitor(cc_id={self.cc_id!r}, np_id={self.np_id!r}, window="
            f"{self._window_label!r}, interval={self.interval}, {state}, "
            f"refreshes={self.refreshes})"
        )


def _to_ts(v: Any) -> pd.Timestamp:
    """A plotly date-axis range value (ms number or date string) as a UTC Timestamp."""
    if isinstance(v, int | float | np.number):
        return pd.Timestamp(float(v), unit="ms", tz="UTC")
    ts = pd.Timestamp(v)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _slice(h: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """Rows in [t0, t1] plus one on each side, so steps and lines reach the edges."""
    x = as_ns(h.index)
    i0 = max(int(np.searchsorted(x, t0.value, side="left")) - 1, 0)
    i1 = int(np.searchsorted(x, t1.value, side="right")) + 1
    return h.iloc[i0:i1]


def live_monitor(
    client: Any,
    cc_id: str,
    np_id: str,
    interval: float = 5.0,
    window: str | float | timedelta = "6h",
    **kwargs: Any,
) -> LiveMonitor:
    """A live panel for one nodepool, refreshed every ``interval`` seconds over the last
    ``window`` from ``client.nodepool_history`` (sync or async client). Returns at once; the
    first fetch happens in the background. Call ``.stop()`` to end it."""
    mon = LiveMonitor(client, cc_id, np_id, interval=interval, window=window, **kwargs)
    try:
        mon.start()
    except RuntimeError:
        warnings.warn(
            "live_monitor: no running asyncio loop (not in a Jupyter kernel?); "
            "call `await monitor.refresh()` to update it by hand",
            stacklevel=2,
        )
    return mon


__all__ = ["LiveMonitor", "auto_resolution", "live_monitor", "monitor_figure"]
