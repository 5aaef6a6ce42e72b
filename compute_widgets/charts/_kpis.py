"""The what-if KPI table, formatted for a person: units, signs, no scientific notation.

One table per plan: ``%compute plan`` and the Planner show it as HTML under the comparison
figure (which then has no table of its own: the KPIs were shown twice). ``KpiTable`` is the
numeric DataFrame of ``sim.compare`` that displays itself formatted, so scripts keep numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

# key -> (label, unit kind); order = display order. Unlisted keys follow, as plain numbers.
KPI_FORMAT: dict[str, tuple[str, str]] = {
    "cost_per_week": ("cost per week", "$"),
    "cost_per_week_all_on_demand": ("cost per week, all on-demand", "$"),
    "cost_total": ("cost in the simulated time", "$"),
    "spot_share": ("spot share of node time", "%"),
    "node_hours_spot": ("spot node-hours", "h"),
    "node_hours_od": ("on-demand node-hours", "h"),
    "idle_node_hours": ("idle node-hours", "h"),
    "max_nodes_seen": ("most nodes at once", "n"),
    "mean_latency_s": ("mean latency", "s"),
    "minutes_over_latency_target": ("minutes over the latency target", "min"),
    "latency_target_s": ("latency target", "s"),
    "p95_queue": ("queue, 95th percentile", "n"),
    "p99_queue": ("queue, 99th percentile", "n"),
    "requests": ("requests", "n"),
    "served": ("requests served", "n"),
    "scale_ups": ("scale-ups", "n"),
    "scale_downs": ("scale-downs", "n"),
    "cold_starts": ("cold starts", "n"),
    "preemptions": ("spot preemptions", "n"),
    "spot_fallbacks": ("spot → on-demand fallbacks", "n"),
    "launch_failures": ("launch failures", "n"),
}


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def format_kpi(key: str, value: Any, *, signed: bool = False) -> str:
    """One KPI value with its unit: $5.23, 99.9 %, 320.3 h, 32.3 s, 1,187,336."""
    v = _num(value)
    if v is None:
        return "—" if value is None or isinstance(value, float) else str(value)
    unit = KPI_FORMAT.get(key, ("", ""))[1]
    sign = "+" if signed and v > 0 else "−" if v < 0 else ""
    a = abs(v)
    if unit == "$":
        text = f"${a:,.2f}"
    elif unit == "%":
        text = f"{a * 100:.1f} %"
    elif unit in ("h", "s", "min"):
        text = f"{a:,.1f} {unit}"
    elif unit == "n" or float(a).is_integer():
        text = f"{a:,.0f}"
    else:
        text = f"{a:,.3g}" if a < 1 else f"{a:,.2f}"
    return sign + text


def kpi_rows(ka: Mapping, kb: Mapping) -> list[tuple[str, str, str, str]]:
    """(label, A, B, B − A) per KPI, known KPIs first in KPI_FORMAT order."""
    keys = [k for k in KPI_FORMAT if k in ka or k in kb]
    keys += [k for k in dict.fromkeys([*ka, *kb]) if k not in KPI_FORMAT]
    rows = []
    for k in keys:
        a, b = ka.get(k), kb.get(k)
        na, nb = _num(a), _num(b)
        if na is None or nb is None:
            delta = ""
        elif nb == na:
            delta = "same"
        else:
            delta = format_kpi(k, nb - na, signed=True)
        label = KPI_FORMAT.get(k, (k.replace("_", " "), ""))[0]
        rows.append((label, format_kpi(k, a), format_kpi(k, b), delta))
    return rows


def kpi_html(ka: Mapping, kb: Mapping, names: tuple[str, str] = ("A", "B"), note: str = "") -> str:
    """The KPI table as HTML (class cw-kpi-table), with an optional note above it."""
    a, b = (html.escape(n) for n in names)
    head = (
        f"<tr><th style='text-align:left'>KPI</th><th>{a}</th><th>{b}</th><th>{b} − {a}</th></tr>"
    )
    body = "".join(
        f"<tr><td style='text-align:left'>{html.escape(lab)}</td>"
        + "".join(f"<td style='text-align:right'>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for lab, *cells in kpi_rows(ka, kb)
    )
    para = f"<p class='cw-kpi-note'>{html.escape(note)}</p>" if note else ""
    return f"{para}<table class='cw-kpi-table'><thead>{head}</thead><tbody>{body}</tbody></table>"


def kpi_text(ka: Mapping, kb: Mapping, names: tuple[str, str] = ("A", "B"), note: str = "") -> str:
    rows = [("KPI", names[0], names[1], f"{names[1]} − {names[0]}"), *kpi_rows(ka, kb)]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        r[0].ljust(w[0]) + "".join("  " + c.rjust(w[i]) for i, c in enumerate(r) if i) for r in rows
    ]
    return "\n".join(([note, ""] if note else []) + lines)


class KpiTable(pd.DataFrame):
    """``sim.compare``'s numeric frame (KPIs x A, B, difference, ratio) that displays as the
    formatted table: units, signed differences, "same" for no change, no ratio column."""

    _metadata = ["note"]

    @property
    def _constructor(self):  # slices and arithmetic give plain DataFrames
        return pd.DataFrame

    def _parts(self) -> tuple[dict, dict, tuple[str, str]]:
        a, b = self.columns[0], self.columns[1]
        return self[a].to_dict(), self[b].to_dict(), (str(a), str(b))

    def _repr_html_(self) -> str:
        ka, kb, names = self._parts()
        return kpi_html(ka, kb, names, getattr(self, "note", "") or "")

    def __repr__(self) -> str:
        ka, kb, names = self._parts()
        return kpi_text(ka, kb, names, getattr(self, "note", "") or "")


def kpi_table(frame: pd.DataFrame, note: str = "") -> KpiTable:
    table = KpiTable(frame)
    table.note = note
    return table


def unchanged_note(
    hist_a: pd.DataFrame | None, kpis_a: Mapping, kpis_b: Mapping, pool_b: Any
) -> str:
    """Words for a proposal that changes no KPI: why, and what would bind ("" if some differ)."""
    if any(_num(kpis_a.get(k)) != _num(kpis_b.get(k)) for k in {*kpis_a, *kpis_b}):
        return ""
    text = "No KPI changes: the proposed settings do not bind in this simulation."
    if hist_a is not None and "nodes" in hist_a and len(hist_a):
        lo, hi = int(hist_a["nodes"].min()), int(hist_a["nodes"].max())
        text = (
            f"No KPI changes: with the current settings the simulated pool always ran "
            f"{lo} to {hi} nodes (its deployments' replicas and traffic set that), which the "
            f"proposed range {pool_b.min_instances} to {pool_b.max_instances} allows too. "
            f"A limit that binds changes the outcome, e.g. --min {lo + 1} or --max {max(hi - 1, 1)}."
        )
    return text
