"""The right-sizing chart: monthly cost against p95 latency, one point per simulated candidate.

Reads a recommendation by duck typing (``.candidates`` and ``.front`` DataFrames, ``.best``,
``.current``, ``.target_p95_s``), so charts/ needs nothing of the engine's package. Every
candidate is a faint point; the Pareto front is a line through its points (cheapest first);
the current configuration and the chosen one have markers of their own; the latency target
is a dashed horizontal line labelled with its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._style import FONT_COLOR, OD_COLOR, SPOT_COLOR, TRANSPARENT, apply_layout

FRONT_COLOR = "#009E73"  # Okabe-Ito green: the candidates worth having
CHOSEN_COLOR = "#D55E00"  # vermillion ring: the recommendation
CANDIDATE_COLOR = "rgba(128,128,128,0.35)"  # faint: the search space, not the answer
LOG_SPREAD = 20.0  # p95 values spread wider than this factor: a log latency axis

# the settings shown on hover: column -> how it reads (missing columns are skipped)
HOVER_FIELDS = (
    ("instance_type", "%{customdata[0]}"),
    ("min_nodes", "nodes %{customdata[1]}"),
    ("max_nodes", "to %{customdata[2]}"),
    ("spot", "%{customdata[3]}"),
    ("scale_down_delay_s", "scale-down delay %{customdata[4]} s"),
    ("minutes_over_target", "%{customdata[5]} min over target"),
)
TRACE_NAMES = {
    "candidates": "all candidates",
    "front": "Pareto front",
    "current": "current",
    "chosen": "recommended",
    "target": "target p95",
}


def _scores(obj: Any) -> Mapping[str, Any] | None:
    """A candidate's fields from a dict, a Series, a one-row frame or an object with attributes
    (the engine's ``best`` / ``current``); None when there is nothing to mark."""
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        return None if obj.empty else obj.iloc[0].to_dict()
    if isinstance(obj, pd.Series | Mapping):
        return dict(obj)
    for inner in ("row", "scores", "candidate"):  # a wrapper around the candidate's row
        found = getattr(obj, inner, None)
        if isinstance(found, pd.Series | Mapping | pd.DataFrame):
            return _scores(found)
    names = ("monthly_cost", "p95_s", *(f for f, _ in HOVER_FIELDS))
    fields = {n: getattr(obj, n) for n in names if hasattr(obj, n)}
    return fields if "monthly_cost" in fields and "p95_s" in fields else None


def _capacity(spot: Any) -> str:
    if spot is None or (isinstance(spot, float) and np.isnan(spot)):
        return ""
    return "spot, on-demand fallback" if bool(spot) else "on-demand only"


def _custom(rows: pd.DataFrame) -> np.ndarray:
    """customdata columns in HOVER_FIELDS order (blank where the frame lacks one)."""
    cols = []
    for name, _ in HOVER_FIELDS:
        if name not in rows.columns:
            cols.append([""] * len(rows))
        elif name == "spot":
            cols.append([_capacity(v) for v in rows[name]])
        elif name in ("scale_down_delay_s", "minutes_over_target"):
            cols.append([f"{float(v):,.0f}" for v in rows[name]])
        else:
            cols.append([str(v) for v in rows[name]])
    return np.array(cols, dtype=object).T if len(rows) else np.empty((0, len(HOVER_FIELDS)))


def _hover(present: set[str]) -> str:
    parts = [text for name, text in HOVER_FIELDS if name in present]
    head = "<b>%{fullData.name}</b><br>"
    return head + "<br>".join(parts) + "<br>$%{x:,.0f}/month · p95 %{y:.2f} s<extra></extra>"


def _frame(rows: Any) -> pd.DataFrame:
    if rows is None:
        return pd.DataFrame(columns=["monthly_cost", "p95_s"])
    return rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)


def _points(rows: pd.DataFrame, name: str, **style: Any) -> go.Scatter:
    return go.Scatter(
        x=rows["monthly_cost"].to_numpy(dtype=float),
        y=rows["p95_s"].to_numpy(dtype=float),
        name=name,
        customdata=_custom(rows),
        hovertemplate=_hover(set(rows.columns)),
        **style,
    )


def _latency_axis(ys: np.ndarray, target: float | None) -> dict[str, Any]:
    """A log axis when latencies spread over more than LOG_SPREAD (cold starts beside
    sub-second waits), else linear from zero; the target always inside the range."""
    ys = ys[np.isfinite(ys)]
    if target is not None and np.isfinite(target):
        ys = np.append(ys, target)
    positive = ys[ys > 0]
    if len(positive) == len(ys) and len(ys) and positive.max() / positive.min() > LOG_SPREAD:
        lo, hi = np.log10(positive.min()), np.log10(positive.max())
        pad = 0.08 * (hi - lo)
        return dict(type="log", range=[lo - pad, hi + pad], title_text="p95 latency (s, log)")
    top = float(ys.max()) if len(ys) else 1.0
    return dict(type="linear", range=[0, top * 1.12 or 1.0], title_text="p95 latency (s)")


def pareto_chart(
    recommendation: Any,
    *,
    title: str | None = None,
    height: int = 460,
) -> go.Figure:
    """Cost ($/month) against p95 latency of every candidate of ``recommendation`` (the result of
    ``cw.recommend``): the front as a line, the current configuration and the recommended one
    marked, the latency target as a dashed line; hover shows a candidate's settings."""
    cands = _frame(getattr(recommendation, "candidates", None))
    front = _frame(getattr(recommendation, "front", None)).sort_values("monthly_cost")
    target = getattr(recommendation, "target_p95_s", None)
    target = float(target) if target is not None else None
    current, chosen = (_scores(getattr(recommendation, k, None)) for k in ("current", "best"))

    fig = go.Figure()
    fig.add_trace(
        _points(cands, TRACE_NAMES["candidates"], mode="markers",
                marker=dict(color=CANDIDATE_COLOR, size=6))
    )  # fmt: skip
    fig.add_trace(
        _points(front, TRACE_NAMES["front"], mode="lines+markers",
                line=dict(color=FRONT_COLOR, width=2, shape="hv"),
                marker=dict(color=FRONT_COLOR, size=8))
    )  # fmt: skip
    if current is not None:
        fig.add_trace(
            _points(pd.DataFrame([current]), TRACE_NAMES["current"], mode="markers",
                    marker=dict(color=OD_COLOR, size=15, symbol="x",
                                line=dict(color=OD_COLOR, width=1)))
        )  # fmt: skip
    if chosen is not None:
        fig.add_trace(
            _points(pd.DataFrame([chosen]), TRACE_NAMES["chosen"], mode="markers",
                    marker=dict(color=TRANSPARENT, size=20, symbol="circle",
                                line=dict(color=CHOSEN_COLOR, width=3)))
        )  # fmt: skip

    ys = np.concatenate(
        [cands["p95_s"].to_numpy(dtype=float), front["p95_s"].to_numpy(dtype=float)]
        + [np.array([float(p["p95_s"])]) for p in (current, chosen) if p is not None]
    )
    yaxis = _latency_axis(ys, target)
    if target is not None:
        # a shape across the plot (not a trace: it has no cost), labelled at its right end
        fig.add_shape(
            type="line", xref="paper", x0=0, x1=1, yref="y", y0=target, y1=target,
            line=dict(color=SPOT_COLOR, width=2, dash="dash"), name=TRACE_NAMES["target"],
        )  # fmt: skip
        fig.add_annotation(
            xref="paper", x=1, xanchor="right", yref="y",
            y=np.log10(target) if yaxis["type"] == "log" else target,
            yanchor="bottom", showarrow=False, text=f"target p95 {target:g} s",
            font=dict(color=SPOT_COLOR, size=11),
        )  # fmt: skip
    name = getattr(recommendation, "nodepool", None)
    default = "Right-sizing: cost against p95 latency" + (f" — {name}" if name else "")
    apply_layout(fig, title or default, height)
    fig.update_xaxes(title_text="cost ($/month)", tickprefix="$", separatethousands=True,
                     rangemode="tozero")  # fmt: skip
    fig.update_yaxes(**yaxis)
    if cands.empty:
        fig.add_annotation(
            xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
            text="No candidate fits these deployments", font=dict(color=FONT_COLOR, size=14),
        )  # fmt: skip
    return fig
