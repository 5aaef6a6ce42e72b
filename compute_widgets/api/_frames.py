"""Tables out of API answers: resource rows, tidy metrics, the canonical HISTORY/EVENTS frames.

pandas is imported inside the functions that build DataFrames, so importing the client stays
cheap; `resource_rows` and `rows_html` need no pandas at all (a ResultList renders without it).
`html_table` is the one HTML table builder: widgets and magics render their tables with it.

Resource columns (one convention everywhere: what a person scans in a table; the full object
stays in the ResultList):

    ComputeCluster  id, description, cloud_provider, region, cluster_type, managed_by, visibility, created_at
    Nodepool        id, cluster, instance_type, capacity, min_instances, max_instances, node_count,
                    status, description, created_at
    Deployment      id, model, nodepools, min_replicas, max_replicas, scheduling, status,
                    description, created_at
    InstanceType    id, cloud_provider, region, vcpu, memory_gib, gpus, accelerator, gpu_memory_gib,
                    price_per_hour, capacity_types, description
    CloudProvider   id, name            CloudRegion  id
    LogEntry        timestamp, kind, count, capacity_type, reason, message
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from compute_widgets.api._labels import enum_label, provider_label

# The one event schema (runner.events): a LogEntry's meta carries all but the message. sim's
# events_records and charts' events_frame use the same names (tests/test_layers.py ties them).
EVENT_COLUMNS = ("timestamp", "kind", "count", "capacity_type", "reason", "message")


def _name(value: Any) -> str:
    """An enum as a person reads it ("pending", "prefer spot"); '' for unset (UNKNOWN_*)."""
    return enum_label(value)


def _capacity(types: Iterable[Any]) -> str:
    names = []
    for t in types or []:
        n = str(getattr(t, "name", t))
        names.append({"SPOT_TYPE": "spot", "ON_DEMAND_TYPE": "on_demand"}.get(n, n.lower()))
    return "+".join(names)


def _cluster_row(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "description": c.description,
        "cloud_provider": c.cloud_provider.id if c.cloud_provider else "",
        "region": c.region,
        "cluster_type": c.cluster_type,
        "managed_by": c.managed_by,
        "visibility": _name(c.visibility.gettable) if c.visibility else "",
        "created_at": c.created_at,
    }


def _nodepool_row(n: Any) -> dict[str, Any]:
    it = n.instance_types[0] if n.instance_types else None
    caps = n.node_capacity_type.capacity_types if n.node_capacity_type else []
    return {
        "id": n.id,
        "cluster": n.compute_cluster.id if n.compute_cluster else "",
        "instance_type": it.id if it else "",
        "capacity": _capacity(caps),
        "min_instances": n.min_instances,
        "max_instances": n.max_instances,
        "node_count": n.node_count,
        "status": _name(n.status),
        "description": n.description,
        "created_at": n.created_at,
    }


def _deployment_row(d: Any) -> dict[str, Any]:
    model = ""
    worker = d.worker or d.desired_worker
    if worker is not None and worker.model is not None:
        ref = worker.model
        model = "/".join(x for x in (ref.user_id, ref.app_id, ref.id) if x)
        if ref.model_version is not None and ref.model_version.id:
            model += f"@{ref.model_version.id}"
    pools = [
        f"{p.compute_cluster.id}/{p.id}" if p.compute_cluster else p.id for p in d.nodepools or []
    ] + [
        f"{p.compute_cluster.id}/{p.id}" if getattr(p, "compute_cluster", None) else p.id
        for p in d.deployment_nodepools or []
    ]
    ac = d.autoscale_config
    return {
        "id": d.id,
        "model": model,
        "nodepools": ", ".join(pools),
        "min_replicas": ac.min_replicas if ac else 0,
        "max_replicas": ac.max_replicas if ac else 0,
        "scheduling": _name(d.scheduling_choice),
        "status": _name(d.status),
        "description": d.description,
        "created_at": d.created_at,
    }


def _instance_row(t: Any) -> dict[str, Any]:
    ci = t.compute_info
    caps = t.allowed_capacity_types.capacity_types if t.allowed_capacity_types else []
    return {
        "id": t.id,
        "cloud_provider": t.cloud_provider.id if t.cloud_provider else "",
        "region": t.region,
        "vcpu": t.vcpu,
        "memory_gib": t.memory_gib,
        "gpus": ci.num_accelerators if ci else 0,
        "accelerator": ", ".join(ci.accelerator_type) if ci else "",
        "gpu_memory_gib": t.gpu_memory_gib,
        "price_per_hour": t.price_per_hour,
        "capacity_types": _capacity(caps) or "spot+on_demand",  # empty = all allowed
        "description": t.description,
    }


def _log_row(e: Any) -> dict[str, Any]:
    meta = e.meta or {}
    return {**{c: meta.get(c, "") for c in EVENT_COLUMNS if c != "message"}, "message": e.message}


_ROWS = {
    "ComputeCluster": _cluster_row,
    "Nodepool": _nodepool_row,
    "Deployment": _deployment_row,
    "InstanceType": _instance_row,
    "CloudProvider": lambda p: {"id": p.id, "name": p.name},
    "CloudRegion": lambda r: {"id": r.id},
    "LogEntry": _log_row,
}
_EMPTY_COLUMNS = {
    "ComputeCluster": list(
        [
            "id",
            "description",
            "cloud_provider",
            "region",
            "cluster_type",
            "managed_by",
            "visibility",
            "created_at",
        ]
    ),
    "Nodepool": [
        "id",
        "cluster",
        "instance_type",
        "capacity",
        "min_instances",
        "max_instances",
        "node_count",
        "status",
        "description",
        "created_at",
    ],
    "Deployment": [
        "id",
        "model",
        "nodepools",
        "min_replicas",
        "max_replicas",
        "scheduling",
        "status",
        "description",
        "created_at",
    ],
    "InstanceType": [
        "id",
        "cloud_provider",
        "region",
        "vcpu",
        "memory_gib",
        "gpus",
        "accelerator",
        "gpu_memory_gib",
        "price_per_hour",
        "capacity_types",
        "description",
    ],
    "CloudProvider": ["id", "name"],
    "CloudRegion": ["id"],
    "LogEntry": list(EVENT_COLUMNS),
}


def resource_rows(items: Iterable[Any], kind: type | None) -> list[dict[str, Any]]:
    row = _ROWS.get(kind.__name__ if kind else "")
    if row is None:
        return [x.model_dump() if hasattr(x, "model_dump") else {"value": x} for x in items]
    return [row(x) for x in items]


def resources_frame(items: list[Any], kind: type | None) -> Any:
    import pandas as pd

    rows = resource_rows(items, kind)
    columns = _EMPTY_COLUMNS.get(kind.__name__ if kind else "")
    frame = pd.DataFrame(rows, columns=columns if columns and not rows else None)
    for col in ("created_at", "timestamp"):
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="ISO8601")
    return frame


def html_table(
    headers: Iterable[str] | None,
    rows: Iterable[Iterable[Any]],
    *,
    caption: str = "",
    css: str = "",
    table_style: str = "",
    header_style: str = "",
    cell_style: str = "",
    row_headers: bool = False,
    raw_columns: Collection[int] = (),
    highlight: int | None = None,
    highlight_attrs: str = "",
) -> str:
    """The one HTML table builder (ResultList, the magics' key/value view, the widgets' tables).

    Cells are escaped unless their column is in ``raw_columns`` (markup the caller built);
    ``row_headers`` makes each row's first cell a <th> (a key/value table); the row at
    ``highlight`` gets ``highlight_attrs`` (class/style of a chosen row). Styles are inline:
    frontends and static viewers drop <style> blocks.
    """

    def attr(name: str, value: str) -> str:
        return f" {name}='{value}'" if value else ""

    th, td = f"<th{attr('style', header_style)}>", f"<td{attr('style', cell_style)}>"
    parts = [f"<table{attr('class', css)}{attr('style', table_style)}>"]
    if caption:
        parts.append(f"<caption style='text-align:left'><b>{html.escape(caption)}</b></caption>")
    if headers is not None:
        head = "".join(f"{th}{html.escape(str(h))}</th>" for h in headers)
        parts.append(f"<thead><tr>{head}</tr></thead>")
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            text = str(c) if j in raw_columns else html.escape(str(c), quote=True)
            cells.append(f"{th}{text}</th>" if row_headers and j == 0 else f"{td}{text}</td>")
        body.append(f"<tr{' ' + highlight_attrs if i == highlight and highlight_attrs else ''}>"
                    f"{''.join(cells)}</tr>")  # fmt: skip
    if body:
        parts.append(f"<tbody>{''.join(body)}</tbody>")
    return "".join(parts) + "</table>"


def rows_html(rows: list[dict[str, Any]], title: str, limit: int = 50) -> str:
    """A titled table of resource rows (escaped), the first `limit` rows."""
    if not rows:
        return f"<div><b>{html.escape(title)}</b></div>"
    cols = list(rows[0])
    table = html_table(cols, ([_cell(r.get(c), c) for c in cols] for r in rows[:limit]))
    more = f"<div>… {len(rows) - limit} more</div>" if len(rows) > limit else ""
    return f"<div><b>{html.escape(title)}</b>{table}{more}</div>"


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if column == "cloud_provider":  # the frame keeps the id ("gcp"); people read "Google Cloud"
        return provider_label(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# metrics


def _series(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The series of a MetricsQueryResponse (`data.matrix_data.series`, camelCase tolerated)."""
    d = data.get("data") or {}
    matrix = d.get("matrix_data") or d.get("matrixData") or {}
    return matrix.get("series") or []


def metrics_frame(answers: list[tuple[str, dict[str, Any]]]) -> Any:
    """Tidy frame: timestamp (UTC), metric, value, labels (dict), one column per label (lower)."""
    import pandas as pd

    ts: list[str] = []
    values: list[float] = []
    metric: list[str] = []
    labels: list[dict[str, str]] = []
    for name, data in answers:
        for s in _series(data):
            lab = {
                str(x.get("name", "")).lower(): str(x.get("value", ""))
                for x in s.get("labels") or []
            }
            points = s.get("value") or []
            ts.extend(p.get("timestamp") for p in points)
            values.extend(float(p.get("value") or 0.0) for p in points)
            metric.extend([name] * len(points))
            labels.extend([lab] * len(points))
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(pd.Series(ts, dtype=object), utc=True, format="ISO8601"),
            "metric": pd.Series(metric, dtype=object),
            "value": pd.Series(values, dtype=float),
            "labels": pd.Series(labels, dtype=object),
        }
    )
    names = sorted({k for lab in labels for k in lab})
    for n in names:
        frame[n] = [lab.get(n, "") for lab in labels]
    return frame


def _history_column(metric: str, labels: dict[str, str], base: str) -> str:
    """HISTORY column of one series (contract: canonical HISTORY frame)."""
    if labels.get("series"):
        return labels["series"]
    if metric == "NODEPOOL_NODE_COUNT" and labels.get("state") and labels.get("capacity_type"):
        cap = "spot" if labels["capacity_type"].lower().startswith("spot") else "od"
        return f"nodes_{labels['state'].lower()}_{cap}"
    return base


def history_frame(
    answers: list[tuple[str, dict[str, Any]]], resolution: str, start: datetime, end: datetime
) -> Any:
    """The canonical HISTORY frame: DatetimeIndex "timestamp" (UTC, regular), one column each.

    Node counts of several unsplit series add up; utilizations of several series average.
    Columns the backend does not provide are absent (real Clarifai: nodes + utilization only).
    """
    import pandas as pd

    from compute_widgets.api._base import HISTORY_METRICS
    from compute_widgets.api.models import parse_duration

    columns: dict[str, list[Any]] = {}
    how: dict[str, str] = {}
    for metric, data in answers:
        base = HISTORY_METRICS.get(metric, metric.lower())
        for s in _series(data):
            lab = {
                str(x.get("name", "")).lower(): str(x.get("value", ""))
                for x in s.get("labels") or []
            }
            col = _history_column(metric, lab, base)
            points = s.get("value") or []
            sr = pd.Series(
                [float(p.get("value") or 0.0) for p in points],
                index=pd.to_datetime(
                    [p.get("timestamp") for p in points], utc=True, format="ISO8601"
                ),
                dtype=float,
            )
            columns.setdefault(col, []).append(sr)
            how[col] = "sum" if metric == "NODEPOOL_NODE_COUNT" else "mean"
    parts = {}
    for col, series in columns.items():
        if len(series) == 1:
            parts[col] = series[0]
        else:
            both = pd.concat(series, axis=1)
            parts[col] = both.sum(axis=1, min_count=1) if how[col] == "sum" else both.mean(axis=1)
    frame = pd.DataFrame(parts)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    step = pd.Timedelta(seconds=parse_duration(resolution or "5m"))
    if len(frame) > 1:
        # Regular steps: series can start at different times or skip points.
        diffs = frame.index.to_series().diff().dropna()
        if (diffs % step == pd.Timedelta(0)).all():
            frame = frame.asfreq(step)
        else:
            frame = frame.resample(step).mean()
    frame.index = pd.DatetimeIndex(frame.index, name="timestamp")
    if frame.index.tz is None:
        frame.index = frame.index.tz_localize("UTC")
    order = [c for c in _HISTORY_ORDER if c in frame.columns]
    return frame[order + [c for c in frame.columns if c not in order]]


_HISTORY_ORDER = [
    "nodes_ready_spot",
    "nodes_ready_od",
    "nodes_pending_spot",
    "nodes_pending_od",
    "nodes",
    "desired",
    "min_nodes",
    "max_nodes",
    "cpu_util",
    "mem_util",
    "gpu_util",
    "gpu_mem_util",
    "replicas",
    "queue",
    "latency_s",
    "requests",
    "cost_rate_spot",
    "cost_rate_od",
    "cost_cum",
    "cost_rate_all_od",
]

def events_frame(entries: list[Any], start: datetime | None, end: datetime | None) -> Any:
    """The canonical EVENTS frame from runner.events log entries (meta carries the fields).

    Entries without structured meta (real Clarifai's Kubernetes event text) keep their message
    with an empty kind.
    """
    import pandas as pd

    rows = []
    for e in entries:
        meta = e.meta or {}
        rows.append(
            {
                "timestamp": meta.get("timestamp"),
                "kind": str(meta.get("kind") or ""),
                "count": int(meta.get("count") or 0),
                "capacity_type": str(meta.get("capacity_type") or ""),
                "reason": str(meta.get("reason") or ""),
                "message": e.message or "",
            }
        )
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    frame["timestamp"] = pd.to_datetime(
        frame["timestamp"], utc=True, errors="coerce", format="ISO8601"
    )
    frame["count"] = frame["count"].astype("int64")
    if start is not None:
        frame = frame[frame["timestamp"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["timestamp"] <= pd.Timestamp(end)]
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
