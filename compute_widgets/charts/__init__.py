"""Plotly charts of a nodepool: utilization, scaling history, cost, what-if comparison, and a
live monitor.

Inputs are the canonical HISTORY / EVENTS DataFrames (from ``client.nodepool_history`` /
``client.nodepool_events`` or a simulator result), never a backend object. The four figure
functions return plain ``go.Figure`` (small in a saved notebook: long series are downsampled to
<= MAX_POINTS points per trace, step series are sent as exact change points). Only
``live_monitor`` makes a ``go.FigureWidget``.
"""

from ._figures import compare, cost, scaling_history, utilization
from ._live import LiveMonitor, auto_resolution, live_monitor
from ._reduce import MAX_POINTS, change_points, expand_steps, minmax_lttb
from ._style import (
    DESIRED_COLOR,
    EVENT_STYLE,
    LIMIT_COLOR,
    OD_COLOR,
    OD_PENDING_COLOR,
    SPOT_COLOR,
    SPOT_PENDING_COLOR,
    TEMPLATE,
    TOTAL_COLOR,
)

__all__ = [
    "DESIRED_COLOR",
    "EVENT_STYLE",
    "LIMIT_COLOR",
    "MAX_POINTS",
    "OD_COLOR",
    "OD_PENDING_COLOR",
    "SPOT_COLOR",
    "SPOT_PENDING_COLOR",
    "TEMPLATE",
    "TOTAL_COLOR",
    "LiveMonitor",
    "auto_resolution",
    "change_points",
    "compare",
    "cost",
    "expand_steps",
    "live_monitor",
    "minmax_lttb",
    "scaling_history",
    "utilization",
]
