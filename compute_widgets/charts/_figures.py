"""The static figures: utilization, scaling_history, cost, compare (plain go.Figure).

Inputs are the canonical HISTORY frame (DatetimeIndex "timestamp", UTC) and EVENTS frame of the
contract; missing columns are skipped. x values are sent as epoch milliseconds on date axes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._kpis import kpi_rows
from ._reduce import MAX_POINTS, as_ns, minmax_lttb, ns_to_ms, reduce_indices
from ._style import (
    DESIRED_COLOR,
    EVENT_STYLE,
    FONT_COLOR,
    GRID_COLOR,
    LIMIT_COLOR,
    OD_COLOR,
    OD_FILL,
    OD_PENDING_COLOR,
    SPOT_COLOR,
    SPOT_FILL,
    SPOT_PENDING_COLOR,
    TOTAL_COLOR,
    TRANSPARENT,
    UTIL_STYLE,
    apply_layout,
)
from ._words import history_note, words_figure

F32 = np.float32
X_HOVER = "%{x|%Y-%m-%d %H:%M:%S} UTC"
MAX_EVENTS_PER_KIND = 300  # beyond this, markers are aggregated in time buckets

# column, legend name, line colour, fill colour (stack order: bottom to top)
NODE_SPLIT = (
    ("nodes_ready_spot", "ready spot", SPOT_COLOR, SPOT_FILL),
    ("nodes_ready_od", "ready on-demand", OD_COLOR, OD_FILL),
    ("nodes_pending_spot", "pending spot", SPOT_COLOR, SPOT_PENDING_COLOR),
    ("nodes_pending_od", "pending on-demand", OD_COLOR, OD_PENDING_COLOR),
    # spot nodes in their preemption notice (the simulator's extra column; not in `nodes`)
    ("nodes_draining_spot", "draining spot (preempted)", SPOT_COLOR, SPOT_PENDING_COLOR),
)
# column, legend name, colour, dash
NODE_LINES = (
    ("desired", "desired", DESIRED_COLOR, "solid"),
    ("min_nodes", "min", LIMIT_COLOR, "dash"),
    ("max_nodes", "max", LIMIT_COLOR, "dash"),
)
RANGE_BUTTONS = [
    dict(count=6, label="6 h", step="hour", stepmode="backward"),
    dict(count=1, label="1 d", step="day", stepmode="backward"),
    dict(count=7, label="7 d", step="day", stepmode="backward"),
    dict(count=30, label="30 d", step="day", stepmode="backward"),
    dict(label="all", step="all"),
]
# the EVENTS frame's columns: api's EVENT_COLUMNS (charts reads frames, not the api; the names
# are tied by tests/test_layers.py); the values a missing column or cell reads as
EVENT_COLUMNS = ("timestamp", "kind", "count", "capacity_type", "reason", "message")
EVENT_DEFAULTS = dict(zip(EVENT_COLUMNS[1:], ("", 1, "", "", ""), strict=True))
MIN_SPAN_MS = 10 * 60 * 1000  # a shorter history is drawn on a 10-minute axis (readable ticks)
LEGEND_ROWS_PX = 70  # room for two or three legend rows under the plot
WHOLE_TICKS_UP_TO = 10  # below this many nodes plotly's auto ticks go to 0.5: use steps of 1


# ---------------------------------------------------------------- inputs


def history_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    """The HISTORY frame with a sorted UTC DatetimeIndex (accepts a 'timestamp' column too)."""
    if df is None:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))
    if not isinstance(df.index, pd.DatetimeIndex):
        if "timestamp" not in df.columns:
            raise TypeError("HISTORY frame needs a DatetimeIndex or a 'timestamp' column")
        df = df.set_index("timestamp")
    idx = pd.DatetimeIndex(df.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    df = df.set_axis(idx.rename("timestamp"))
    return df if idx.is_monotonic_increasing else df.sort_index()


def events_frame(events: pd.DataFrame | None) -> pd.DataFrame | None:
    """The EVENTS frame with every column present, UTC timestamps, sorted; None when empty."""
    if events is None or len(events) == 0:
        return None
    ev = events.reset_index() if "timestamp" not in events.columns else events.copy()
    ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True)
    for col, val in EVENT_DEFAULTS.items():
        ev[col] = ev[col].fillna(val) if col in ev.columns else val
    return ev.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _has(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and bool(df[col].notna().any())


def _values(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------- trace builders


def _hover(name: str, fmt: str) -> str:
    return f"<b>{name}</b>: {fmt}<br>{X_HOVER}<extra></extra>"


def node_traces(df: pd.DataFrame, max_points: int = MAX_POINTS) -> list[go.Scatter]:
    """Stacked node-count steps by capacity type (or the total), desired, min and max."""
    x_ns = as_ns(df.index)
    traces: list[go.Scatter] = []
    split = [
        s
        for s in NODE_SPLIT
        if _has(df, s[0]) and ("draining" not in s[0] or bool((df[s[0]] > 0).any()))
    ]
    if split:
        ys = whole_stack([np.nan_to_num(_values(df, s[0])) for s in split])
        idx, _ = reduce_indices(x_ns, ys, "step", max_points)  # shared x: stacking needs it
        x = ns_to_ms(x_ns[idx])
        for (_col, name, color, fill), y in zip(split, ys, strict=True):
            traces.append(
                go.Scatter(
                    x=x,
                    y=y[idx].astype(F32),
                    name=name,
                    mode="lines",
                    stackgroup="nodes",
                    line=dict(color=color, width=0.8, shape="hv"),
                    fillcolor=fill,
                    fillpattern=dict(shape="/", fgcolor=color) if "draining" in name else None,
                    hovertemplate=_hover(name, "%{y:.0f} nodes"),
                )
            )
    elif _has(df, "nodes"):
        traces.append(
            _step_line(
                df,
                x_ns,
                "nodes",
                "nodes",
                TOTAL_COLOR,
                "solid",
                max_points,
                fill="rgba(142,124,195,0.45)",
            )
        )
    for col, name, color, dash in NODE_LINES:
        if _has(df, col):
            traces.append(_step_line(df, x_ns, col, name, color, dash, max_points))
    return traces


def whole_stack(ys: list[np.ndarray]) -> list[np.ndarray]:
    """Node counts as whole nodes, stack by stack: a coarse history averages counts over each
    bucket (1.4 nodes), which no pool ever had. The running totals are rounded and the parts
    re-derived from them, so each part is >= 0 and the stack's top is the rounded total."""
    if not ys:
        return ys
    tops = np.rint(np.cumsum(np.vstack(ys), axis=0))
    parts = np.diff(tops, axis=0, prepend=0.0)
    return [np.maximum(p, 0.0) for p in parts]


def _step_line(df, x_ns, col, name, color, dash, max_points, fill=None) -> go.Scatter:
    y = np.rint(_values(df, col))  # a count: whole nodes (see whole_stack)
    ok = ~np.isnan(y)
    idx, step = reduce_indices(x_ns[ok], [y[ok]], "step", max_points)
    return go.Scatter(
        x=ns_to_ms(x_ns[ok][idx]),
        y=y[ok][idx].astype(F32),
        name=name,
        mode="lines",
        line=dict(
            color=color,
            width=2 if dash == "solid" else 1.5,
            dash=dash,
            shape="hv" if step else "linear",
        ),
        fill="tozeroy" if fill else None,
        fillcolor=fill,
        hovertemplate=_hover(name, "%{y:.0f} nodes"),
    )


def line_trace(
    df: pd.DataFrame,
    col: str,
    name: str,
    color: str,
    fmt: str,
    max_points: int = MAX_POINTS,
    *,
    x_ns: np.ndarray | None = None,
    dash: str = "solid",
    fill: str | None = None,
) -> go.Scatter:
    """A continuous series, MinMaxLTTB-downsampled (NaNs dropped, global extremes kept)."""
    x_ns = as_ns(df.index) if x_ns is None else x_ns
    y = _values(df, col)
    ok = ~np.isnan(y)
    xs, ys = x_ns[ok], y[ok]
    idx = minmax_lttb(xs, ys, max_points)
    return go.Scatter(
        x=ns_to_ms(xs[idx]),
        y=ys[idx].astype(F32),
        name=name,
        mode="lines",
        line=dict(color=color, width=1.3, dash=dash),
        fill="tozeroy" if fill else None,
        fillcolor=fill,
        hovertemplate=_hover(name, fmt),
    )


def _event_text(row: Any) -> str:
    """Hover line of one event: its human message, else count, capacity type and reason."""
    if row.message:
        return html.escape(str(row.message))
    count = int(row.count) if row.count == row.count else 1
    cap = {"spot": "spot ", "on_demand": "on-demand "}.get(str(row.capacity_type), "")
    text = f"{count} {cap}node{'s' if count != 1 else ''}"
    return text + (f" · {html.escape(str(row.reason))}" if row.reason else "")


_BUCKETS = (
    ("1h", "hour"),
    ("3h", "3 hours"),
    ("6h", "6 hours"),
    ("12h", "12 hours"),
    ("1D", "day"),
    ("7D", "week"),
)


def event_traces(ev: pd.DataFrame | None) -> tuple[list[go.Scatter], list[str]]:
    """One marker trace per event kind in its own lane; returns traces and lane labels.

    Markers sit exactly at the event timestamps. A kind with more than MAX_EVENTS_PER_KIND events
    is aggregated into the smallest bucket (1 h, 3 h, ... 1 week) that fits the cap: one marker
    at each bucket's start whose hover gives the totals (autoscaling.md §5 rec. 5)."""
    if ev is None or len(ev) == 0:
        return [], []
    kinds = [k for k in EVENT_STYLE if (ev["kind"] == k).any()]
    kinds += sorted(set(ev["kind"].astype(str)) - set(EVENT_STYLE) - {""})
    traces, labels = [], []
    for lane, kind in enumerate(kinds):
        label, color, symbol = EVENT_STYLE.get(kind, (kind.replace("_", " "), FONT_COLOR, "circle"))
        sub = ev[ev["kind"] == kind]
        if len(sub) > MAX_EVENTS_PER_KIND:
            for freq, span in _BUCKETS:  # noqa: B007 (span is used after the loop)
                agg = sub.groupby(sub["timestamp"].dt.floor(freq)).agg(
                    n=("kind", "size"), nodes=("count", "sum")
                )
                if len(agg) <= MAX_EVENTS_PER_KIND:
                    break
            x_ns = as_ns(pd.DatetimeIndex(agg.index))
            text = [
                f"{n} events, {int(c)} nodes in this {span}"
                for n, c in zip(agg["n"], agg["nodes"], strict=True)
            ]
        else:
            x_ns = as_ns(pd.DatetimeIndex(sub["timestamp"]))
            text = [_event_text(r) for r in sub.itertuples(index=False)]
        traces.append(
            go.Scatter(
                x=ns_to_ms(x_ns),
                # one y per marker: plotly reads dy=0 as "unset" (1), so y0/dy put the nth
                # event in lane n; a small int8 array costs ~1.4 bytes per event
                y=np.full(len(x_ns), lane, dtype=np.int8),
                name=label,
                mode="markers",
                marker=dict(color=color, symbol=symbol, size=10, line=dict(width=1, color=color)),
                text=text,
                hovertemplate=f"<b>{html.escape(label)}</b><br>%{{text}}<br>{X_HOVER}<extra></extra>",
            )
        )
        labels.append(label)
    return traces, labels


def _no_data(fig: go.Figure, what: str) -> None:
    """A note over an empty subplot (the live monitor keeps its axes: data may come)."""
    fig.add_annotation(
        text=f"no {what} yet",
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font=dict(color=FONT_COLOR, size=14),
    )


def count_top(traces: Iterable[go.Scatter]) -> float:
    """The highest node count drawn by node_traces' output (a stack's top is its sum: the
    stacked traces share x)."""
    stack: np.ndarray | None = None
    top = 0.0
    for t in traces:
        y = np.asarray(t.y if t.y is not None else [], dtype=np.float64)
        if not len(y) or np.isnan(y).all():
            continue
        if t.stackgroup:
            stack = y if stack is None else stack + y
        else:
            top = max(top, float(np.nanmax(y)))
    return max(top, float(np.nanmax(stack)) if stack is not None else 0.0)


def count_axis(fig: go.Figure, top: float, row: int, col: int | None = 1) -> None:
    """A y axis of node counts up to ``top``: ticks at whole nodes (plotly's auto ticks give 0.5
    steps on a 0-3 axis). Above WHOLE_TICKS_UP_TO the auto steps (2, 5, 10, ...) are whole."""
    kw = dict(rangemode="tozero", tickformat=",d")
    if top <= WHOLE_TICKS_UP_TO:
        kw.update(tick0=0, dtick=1)
    fig.update_yaxes(**kw, row=row, col=col)


def _min_span(fig: go.Figure, x_ns: np.ndarray) -> None:
    """Give a history shorter than MIN_SPAN_MS a 10-minute axis ending at its last sample."""
    if len(x_ns) and (x_ns[-1] - x_ns[0]) / 1e6 < MIN_SPAN_MS:
        end = float(x_ns[-1]) / 1e6
        fig.update_xaxes(range=[end - MIN_SPAN_MS, end])


def _event_axis(fig: go.Figure, labels: list[str], row: int, col: int = 1) -> None:
    """The lane strip: lane 0 (the first kind of EVENT_STYLE) on top, as in the legend."""
    fig.update_yaxes(
        tickvals=list(range(len(labels))),
        ticktext=labels,
        range=[max(len(labels), 1) - 0.4, -0.6],
        fixedrange=True,
        showgrid=False,
        zeroline=False,
        row=row,
        col=col,
    )


# ---------------------------------------------------------------- public figures


def utilization(
    df: pd.DataFrame,
    *,
    title: str = "Utilization",
    height: int | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """CPU, memory, GPU and GPU-memory utilization (0–100 %) as small multiples sharing x."""
    h = history_frame(df)
    note = history_note(h)
    cols = [c for c in UTIL_STYLE if _has(h, c)]
    if note or not cols:
        return words_figure(title, note or "No utilization metrics in this window.")
    rows = len(cols)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.05)
    x_ns = as_ns(h.index)
    for i, col in enumerate(cols, start=1):
        label, color = UTIL_STYLE[col]
        fill = _alpha(color, 0.12)
        fig.add_trace(
            line_trace(h, col, label, color, "%{y:.1f} %", max_points, x_ns=x_ns, fill=fill),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text=f"{label} (%)", range=[0, 100], row=i, col=1)
    apply_layout(fig, title, height or 90 + 130 * rows, showlegend=False)
    fig.update_xaxes(type="date")
    _min_span(fig, x_ns)
    fig.update_xaxes(title_text="time (UTC)", row=rows, col=1)
    return fig


def scaling_history(
    df: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    title: str = "Nodepool scaling history",
    height: int | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Node count as stacked steps by capacity type (pending lighter), desired, min/max, event
    markers in a lane strip below, and a 6 h / 1 d / 7 d / 30 d / all range selector."""
    h = history_frame(df)
    traces = node_traces(h, max_points)
    note = history_note(h)
    if note or not traces:
        return words_figure(title, note or "No node counts in this window.")
    ev_traces, lanes = event_traces(events_frame(events))
    rows = 2 if ev_traces else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.8, 0.2] if rows == 2 else None,
    )
    for t in traces:
        fig.add_trace(t, row=1, col=1)
    for t in ev_traces:
        fig.add_trace(t, row=2, col=1)
    # + LEGEND_ROWS_PX: the legend's rows sit under the plot and must not shrink it
    apply_layout(fig, title, height or (500 if rows == 2 else 420) + LEGEND_ROWS_PX)
    fig.update_xaxes(type="date")
    fig.update_xaxes(title_text="time (UTC)", row=rows, col=1)
    fig.update_yaxes(title_text="nodes", row=1, col=1)
    count_axis(fig, count_top(traces), row=1, col=1)
    _min_span(fig, as_ns(h.index))
    if rows == 2:
        fig.update_layout(height=max(fig.layout.height, 400 + LEGEND_ROWS_PX + 22 * len(lanes)))
        _event_axis(fig, lanes, row=2)
    fig.update_xaxes(
        rangeselector=dict(
            buttons=RANGE_BUTTONS,
            bgcolor="rgba(128,128,128,0.15)",
            activecolor="rgba(128,128,128,0.45)",
            x=0,
            y=1.02,
            yanchor="bottom",
            font=dict(color=FONT_COLOR),
        ),
        row=1,
        col=1,
    )
    fig.update_layout(margin=dict(t=100))  # title, then the range buttons above the plot
    return fig


def cost(
    df: pd.DataFrame,
    *,
    title: str = "Cost",
    height: int | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Cost rate ($/h) stacked by capacity type with the all-on-demand counterfactual (dashed),
    and cumulative cost ($) below, with the counterfactual's cumulative cost."""
    h = history_frame(df)
    note = history_note(h)
    if note:
        return words_figure(title, note)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.55, 0.45]
    )
    x_ns = as_ns(h.index)
    rates = [
        (c, n, col, fill)
        for c, n, col, fill in (
            ("cost_rate_spot", "spot", SPOT_COLOR, SPOT_FILL),
            ("cost_rate_od", "on-demand", OD_COLOR, OD_FILL),
        )
        if _has(h, c)
    ]
    if rates:
        ys = [np.nan_to_num(_values(h, c)) for c, *_ in rates]
        idx, step = reduce_indices(x_ns, ys, "auto", max_points)
        for (_c, name, color, fill), y in zip(rates, ys, strict=True):
            fig.add_trace(
                go.Scatter(
                    x=ns_to_ms(x_ns[idx]),
                    y=y[idx].astype(F32),
                    name=f"{name} $/h",
                    mode="lines",
                    stackgroup="rate",
                    line=dict(color=color, width=0.8, shape="hv" if step else "linear"),
                    fillcolor=fill,
                    hovertemplate=_hover(name, "$%{y:,.2f}/h"),
                ),
                row=1,
                col=1,
            )
    cf_name = "all on-demand (counterfactual)"
    cf_total = None
    if _has(h, "cost_rate_all_od"):
        y = np.nan_to_num(_values(h, "cost_rate_all_od"))
        idx, step = reduce_indices(x_ns, [y], "auto", max_points)
        fig.add_trace(
            go.Scatter(
                x=ns_to_ms(x_ns[idx]),
                y=y[idx].astype(F32),
                name=cf_name,
                mode="lines",
                legendgroup="cf",
                line=dict(color=OD_COLOR, width=1.5, dash="dash", shape="hv" if step else "linear"),
                hovertemplate=_hover("all on-demand", "$%{y:,.2f}/h"),
            ),
            row=1,
            col=1,
        )
        cf_cum = np.cumsum(y * _step_hours(x_ns))
        cf_total = float(cf_cum[-1]) if len(cf_cum) else None
        h = h.assign(_cf_cum=cf_cum)
    actual = _cumulative_cost(h, x_ns)
    total = None
    if actual is not None:
        h = h.assign(_cost_cum=actual)
        total = float(actual[-1]) if len(actual) else None
        fig.add_trace(
            line_trace(
                h, "_cost_cum", "cumulative cost", TOTAL_COLOR, "$%{y:,.2f}", max_points, x_ns=x_ns
            ),
            row=2,
            col=1,
        )
    if cf_total is not None:
        fig.add_trace(
            line_trace(
                h,
                "_cf_cum",
                "cumulative, all on-demand",
                OD_COLOR,
                "$%{y:,.2f}",
                max_points,
                x_ns=x_ns,
                dash="dash",
            ),
            row=2,
            col=1,
        )
    if not fig.data:
        return words_figure(title, "No cost figures in this window.")
    subtitle = ""
    if total is not None:
        subtitle = f"${total:,.2f} in this window"
        if cf_total:
            saved = cf_total - total
            subtitle += (  # a second line: one line overflows a 400 px output
                f"<br>all on-demand would be ${cf_total:,.2f} "
                f"(spot saves ${saved:,.2f}, {saved / cf_total:.0%})"
            )
    apply_layout(
        fig,
        title + (f"<br><sup>{subtitle}</sup>" if subtitle else ""),
        height or 540 + LEGEND_ROWS_PX,
    )
    fig.update_xaxes(type="date")
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    fig.update_yaxes(title_text="cost rate ($/h)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="cumulative ($)", rangemode="tozero", row=2, col=1)
    _min_span(fig, x_ns)
    fig.update_layout(margin=dict(t=110 if subtitle else 80))  # title lines under the mode bar
    return fig


def compare(
    result_a: Any,
    result_b: Any,
    names: tuple[str, str] = ("A", "B"),
    *,
    title: str = "What-if comparison",
    height: int | None = None,
    max_points: int = MAX_POINTS,
    table: bool = True,
) -> go.Figure:
    """Two simulation results side by side (nodes, latency, queue, cumulative cost; y axes shared
    per row) above a KPI table with the difference B − A (``table=False``: no table, for views
    that show the KPIs as HTML below the figure, as ``%compute plan`` and the Planner do)."""
    results = [_result_parts(result_a), _result_parts(result_b)]
    panels = [
        ("nodes", "nodes"),
        ("latency_s", "latency (s)"),
        ("queue", "queue (requests)"),
        ("cost", "cumulative cost ($)"),
    ]
    rows = len(panels) + (1 if table else 0)
    specs = [[{}, {}]] * len(panels)
    if table:
        specs.append([{"type": "table", "colspan": 2}, None])
    fig = make_subplots(
        rows=rows,
        cols=2,
        shared_yaxes=True,
        column_titles=list(names),
        specs=specs,
        row_heights=[0.25, 0.15, 0.15, 0.15, 0.30] if table else [0.34, 0.22, 0.22, 0.22],
        vertical_spacing=0.045,
        horizontal_spacing=0.04,
    )
    node_sets = []
    for c, (hist, _ev, _k) in enumerate(results, start=1):
        h = history_frame(hist)
        x_ns = as_ns(h.index)
        node_sets += [nodes := node_traces(h, max_points)]
        for t in nodes:
            fig.add_trace(_legend_once(t, c), row=1, col=c)
        if _has(h, "latency_s"):
            fig.add_trace(
                _legend_once(
                    line_trace(
                        h, "latency_s", "latency", "#56B4E9", "%{y:.2f} s", max_points, x_ns=x_ns
                    ),
                    c,
                ),
                row=2,
                col=c,
            )
        if _has(h, "queue"):
            fig.add_trace(
                _legend_once(
                    line_trace(h, "queue", "queue", "#CC79A7", "%{y:,.0f}", max_points, x_ns=x_ns),
                    c,
                ),
                row=3,
                col=c,
            )
        cum = _cumulative_cost(h, x_ns)
        if cum is not None:
            h = h.assign(_cost_cum=cum)
            fig.add_trace(
                _legend_once(
                    line_trace(
                        h,
                        "_cost_cum",
                        "cumulative cost",
                        TOTAL_COLOR,
                        "$%{y:,.2f}",
                        max_points,
                        x_ns=x_ns,
                    ),
                    c,
                ),
                row=4,
                col=c,
            )
        # x shared down each column (the table row has no x axis, so link the axes by hand)
        bottom = _axis_id(fig, len(panels), c)
        for r in range(1, len(panels)):
            fig.update_xaxes(matches=bottom, showticklabels=False, row=r, col=c)
    if table:
        fig.add_trace(_kpi_table(results[0][2], results[1][2], names), row=rows, col=1)
    apply_layout(fig, title, height or (1050 if table else 780) + LEGEND_ROWS_PX)
    fig.update_xaxes(type="date")
    for r, (_key, label) in enumerate(panels, start=1):
        fig.update_yaxes(title_text=label, rangemode="tozero", row=r, col=1)
    top = max(count_top(ts) for ts in node_sets)
    for c in (1, 2):  # one tick rule for both (shared y)
        count_axis(fig, top, row=1, col=c)
    return fig


# ---------------------------------------------------------------- helpers


def _alpha(hex_color: str, a: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{a})"


def _step_hours(x_ns: np.ndarray) -> np.ndarray:
    """Length of each step in hours (the last step repeats the median)."""
    if len(x_ns) < 2:
        return np.zeros(len(x_ns))
    d = np.diff(x_ns).astype(np.float64) / 3.6e12
    return np.append(d, np.median(d))


def _cumulative_cost(h: pd.DataFrame, x_ns: np.ndarray) -> np.ndarray | None:
    if _has(h, "cost_cum"):
        return _values(h, "cost_cum")
    cols = [c for c in ("cost_rate_spot", "cost_rate_od") if _has(h, c)]
    if not cols:
        return None
    rate = sum(np.nan_to_num(_values(h, c)) for c in cols)
    return np.cumsum(rate * _step_hours(x_ns))


def _result_parts(result: Any) -> tuple[pd.DataFrame, pd.DataFrame | None, Mapping]:
    if isinstance(result, Mapping):
        get = result.get
    else:

        def get(name, default=None):
            return getattr(result, name, default)

    kpis = get("kpis", None) or {}
    return get("history"), get("events", None), dict(kpis)


def _legend_once(trace: go.Scatter, col: int) -> go.Scatter:
    trace.legendgroup = trace.legendgroup or trace.name
    trace.showlegend = col == 1
    return trace


def _axis_id(fig: go.Figure, row: int, col: int) -> str:
    ref = fig.get_subplot(row, col)
    return ref.xaxis.plotly_name.replace("axis", "")


def _kpi_table(ka: Mapping, kb: Mapping, names: Iterable[str]) -> go.Table:
    rows = kpi_rows(ka, kb)
    a_name, b_name = names
    return go.Table(
        header=dict(
            values=["KPI", a_name, b_name, f"{b_name} − {a_name}"],
            fill_color="rgba(128,128,128,0.18)",
            line_color=GRID_COLOR,
            font=dict(color=FONT_COLOR, size=12),
            align=["left", "right"],
        ),
        cells=dict(
            values=[list(col) for col in zip(*rows, strict=True)] if rows else [[], [], [], []],
            fill_color=TRANSPARENT,
            line_color=GRID_COLOR,
            font=dict(color=FONT_COLOR, size=12),
            align=["left", "right"],
            height=24,
        ),
        columnwidth=[2.2, 1, 1, 1],
    )
