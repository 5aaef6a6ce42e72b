"""Colours and the minimal layout template shared by every chart.

One colour for spot and one for on-demand, in every chart. Backgrounds are transparent and
text/grid colours are mid-grey with alpha, so the same figure reads in JupyterLab's light and
dark themes (plotly's mime renderer does not switch templates with the theme).
"""

from __future__ import annotations

import plotly.graph_objects as go

# Okabe-Ito palette (colour-blind safe).
SPOT_COLOR = "#E69F00"  # orange
OD_COLOR = "#0072B2"  # blue
# Pending (booting) nodes: the same hues, lighter (lower alpha).
SPOT_PENDING_COLOR = "rgba(230,159,0,0.35)"
OD_PENDING_COLOR = "rgba(0,114,178,0.35)"
SPOT_FILL = "rgba(230,159,0,0.75)"
OD_FILL = "rgba(0,114,178,0.75)"
TOTAL_COLOR = "#8E7CC3"  # total nodes when the backend gives no capacity-type split
DESIRED_COLOR = "#009E73"
LIMIT_COLOR = "#999999"  # min / max dashed lines


UTIL_STYLE: dict[str, tuple[str, str]] = {  # column -> (label, colour)
    "cpu_util": ("CPU", "#56B4E9"),
    "mem_util": ("Memory", "#009E73"),
    "gpu_util": ("GPU", "#CC79A7"),
    "gpu_mem_util": ("GPU memory", "#D55E00"),
}

# kind -> (legend label, colour, marker symbol); order = top-to-bottom order in the event strip.
EVENT_STYLE: dict[str, tuple[str, str, str]] = {
    "scale_up": ("scale up", "#009E73", "triangle-up"),
    "scale_down": ("scale down", "#56B4E9", "triangle-down"),
    "preemption": ("spot preemption", "#D55E00", "x"),
    "spot_fallback": ("on-demand fallback", "#CC79A7", "diamond"),
    "spot_return": ("back to spot", SPOT_COLOR, "diamond-open"),
    "cold_start": ("cold start", "#999999", "circle-open"),
    "launch_failure": ("launch failure", "#D55E00", "hexagram"),
}

FONT_COLOR = "#7a7a7a"  # ~4.3:1 contrast on both white and JupyterLab's dark background
GRID_COLOR = "rgba(128,128,128,0.22)"
LINE_COLOR = "rgba(128,128,128,0.55)"
TRANSPARENT = "rgba(0,0,0,0)"

_AXIS = dict(
    gridcolor=GRID_COLOR,
    zerolinecolor=GRID_COLOR,
    linecolor=LINE_COLOR,
    tickcolor=LINE_COLOR,
    showline=True,
    automargin=True,
)

#: The template every figure uses instead of plotly's default (which sets a white plot area
#: and adds ~9 KB of trace defaults to each saved figure).
TEMPLATE = go.layout.Template(
    layout=dict(
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        font=dict(
            family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            size=12,
            color=FONT_COLOR,
        ),
        xaxis=_AXIS,
        yaxis=_AXIS,
        legend=dict(bgcolor=TRANSPARENT),
        hoverlabel=dict(
            bgcolor="rgba(40,40,40,0.9)", font=dict(color="#f0f0f0"), bordercolor=LINE_COLOR
        ),
        colorway=["#56B4E9", "#009E73", "#CC79A7", "#D55E00", "#F0E442", SPOT_COLOR, OD_COLOR],
        margin=dict(l=60, r=20, t=70, b=40),
    )
)


#: Rarely useful buttons dropped from the mode bar: a shorter bar leaves the title room at 400 px.
MODEBAR_REMOVE = ["lasso2d", "select2d", "autoScale2d", "zoomIn2d", "zoomOut2d"]
TITLE_TOP = 42  # px from the top: the title sits under the mode bar (~30 px), never beneath it


def apply_layout(fig: go.Figure, title: str, height: int, **extra) -> go.Figure:
    """Common layout: our template, a title under the mode bar, an explicit height, and the
    legend in rows below the plot (on the right, long names took 40 % of a 700 px chart)."""
    fig.update_layout(
        template=TEMPLATE,
        title=dict(
            text=title,
            x=0.01,
            xanchor="left",
            yref="container",
            y=1,
            yanchor="top",
            pad=dict(t=TITLE_TOP),
        ),
        height=height,
        hovermode="closest",
        paper_bgcolor=TRANSPARENT,  # explicit as well as in the template: survives a re-template
        plot_bgcolor=TRANSPARENT,
        modebar=dict(remove=MODEBAR_REMOVE),
        legend=dict(
            orientation="h",
            yref="container",
            yanchor="bottom",
            y=0,
            x=0,
            xanchor="left",
            traceorder="normal",  # stacked areas would reverse it (plotly's default for stacks)
            bgcolor=TRANSPARENT,
            font=dict(size=11),
        ),
        **extra,
    )
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    return fig
