"""Plotly charts of a nodepool: utilization, scaling history, cost, what-if comparison, and a
live monitor.

A history too short to chart (a new nodepool: no sample, or one) gives a figure of words, not
axes; ``history_note(history)`` returns those words (None when there is something to chart).

Inputs are the canonical HISTORY / EVENTS DataFrames (from ``client.nodepool_history`` /
``client.nodepool_events`` or a simulator result), never a backend object. The four figure
functions return plain ``go.Figure`` (small in a saved notebook: long series are downsampled to
<= MAX_POINTS points per trace, step series are sent as exact change points). Only
``live_monitor`` makes a ``go.FigureWidget``.
"""

from ._figures import compare, cost, scaling_history, utilization
from ._kpis import KPI_FORMAT, KpiTable, format_kpi, kpi_html, kpi_table, unchanged_note
from ._live import LiveMonitor, auto_resolution, live_monitor
from ._pareto import pareto_chart
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
from ._words import history_note, words_figure

__all__ = [
    "DESIRED_COLOR",
    "EVENT_STYLE",
    "KPI_FORMAT",
    "LIMIT_COLOR",
    "MAX_POINTS",
    "OD_COLOR",
    "OD_PENDING_COLOR",
    "SPOT_COLOR",
    "SPOT_PENDING_COLOR",
    "TEMPLATE",
    "TOTAL_COLOR",
    "KpiTable",
    "LiveMonitor",
    "auto_resolution",
    "change_points",
    "compare",
    "cost",
    "expand_steps",
    "format_kpi",
    "history_note",
    "kpi_html",
    "kpi_table",
    "live_monitor",
    "minmax_lttb",
    "pareto_chart",
    "scaling_history",
    "unchanged_note",
    "utilization",
    "words_figure",
]
