"""Words in a chart's place when there is nothing to draw yet.

A new nodepool has no metrics (an empty frame drew plotly's default Jan-Nov 2000 date axis) or
one sample (a zero-width x range: ticks 1 ms apart, "12:04:59.999"). Neither says anything
true, so the figure becomes a line of text, with no axes.
"""

from __future__ import annotations

import html
import textwrap

import pandas as pd
import plotly.graph_objects as go

from ._style import FONT_COLOR, apply_layout

NO_AXES_BUTTONS = (
    "zoom",
    "pan",
    "zoomin",
    "zoomout",
    "autoscale",
    "resetscale",
    "select",
    "lasso",
    "togglespikelines",
    "hoverclosest",
    "hovercompare",
)
MIN_SAMPLES = 2  # a time axis needs two distinct times


def _times(df: pd.DataFrame | None) -> pd.DatetimeIndex:
    if df is None or len(df) == 0:
        return pd.DatetimeIndex([], tz="UTC")
    if isinstance(df.index, pd.DatetimeIndex):
        idx = df.index
    elif "timestamp" in df.columns:
        idx = pd.DatetimeIndex(pd.to_datetime(df["timestamp"], utc=True))
    else:
        return pd.DatetimeIndex([], tz="UTC")
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.unique()


def history_note(history: pd.DataFrame | None) -> str | None:
    """What to say instead of a chart when ``history`` (a HISTORY frame) is too short to chart,
    or None when it can be charted. The browser and the figures say the same words."""
    times = _times(history)
    if len(times) >= MIN_SAMPLES:
        return None
    if len(times) == 0:
        return (
            "No history yet: this nodepool has no metrics in this window. "
            "Charts appear once it has run for a few minutes."
        )
    return (
        f"Not enough history yet: one sample so far ({times[0]:%Y-%m-%d %H:%M} UTC). "
        "Charts appear once the nodepool has run for a few minutes."
    )


def words_figure(title: str, text: str, height: int = 150) -> go.Figure:
    """A figure that is only its title and ``text``: no axes, no grid, no range buttons."""
    fig = go.Figure()
    fig.add_annotation(
        # annotations never wrap: break the lines here, to fit a 400 px wide output
        text="<br>".join(html.escape(line) for line in textwrap.wrap(text, 44)),
        xref="paper",
        yref="paper",
        x=0,
        xanchor="left",
        y=0.5,
        showarrow=False,
        align="left",
        font=dict(color=FONT_COLOR, size=14),
    )
    apply_layout(fig, title, height, showlegend=False, margin=dict(l=10, r=10, t=70, b=10))
    # nothing to zoom, pan or hover: keep only "download as png" in the mode bar
    fig.update_layout(modebar=dict(remove=[*NO_AXES_BUTTONS]))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
