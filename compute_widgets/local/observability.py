"""The observability handlers: PostMetricsQuery, ListMetricLabels, ListLogEntries (one function
per RPC, ``handler(plane, rq) -> body``)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from compute_widgets.api import models as m
from compute_widgets.api.errors import InvalidInput
from compute_widgets.local import runners
from compute_widgets.local import store as st
from compute_widgets.local.crud import (
    SHARED_CLUSTER_ID,
    Plane,
)
from compute_widgets.local.wire import (
    LOG_PER_PAGE,
    C,
    Fail,
    Rq,
)


def post_metrics(plane: Plane, rq: Rq) -> dict[str, Any]:
    raw = rq.body.get("query")
    if not isinstance(raw, dict):
        raise Fail(
            C.BAD_REQUEST,
            "query: give a MetricSearchQuery object (metric_type, start_time, end_time, resolution, filters, aggregate).",
        )
    try:
        query = m.MetricSearchQuery.from_wire(raw)
    except InvalidInput as e:
        raise Fail(
            C.BAD_REQUEST, "; ".join(f"query.{p.field}: {p.message}" for p in e.problems) + "."
        ) from None
    if int(query.metric_type or 0) not in {int(t) for t in m.MetricType if int(t)}:
        names = ", ".join(t.name for t in m.MetricType if int(t))
        got = f", got {int(query.metric_type)}" if int(query.metric_type or 0) else ""
        raise Fail(C.BAD_REQUEST, f"query.metric_type: choose one of {names}{got}.")
    if plane.metrics is not None:
        try:
            series, resolution = plane.metrics.query(rq.user, query)
        except (InvalidInput, ValueError) as e:
            # a query over the retention or cost caps names its field: "query.resolution: ..."
            capped = type(e).__name__ == "QueryTooLarge"
            raise Fail(C.BAD_REQUEST, f"query.{e}." if capped else f"query: {e}") from None
        wire = _enum_labels_only([_wire_of(s) for s in series], query)
    else:
        wire, resolution = _store_node_counts(plane, rq.user, query)
    return {"data": {"matrix_data": {"series": wire}}, "resolution": resolution}


def _label_str(label: Any) -> str:
    """A label as its name: an enum member, its number (the wire) or a string."""
    if isinstance(label, int) and not isinstance(label, bool):
        try:
            return m.MetricLabel(label).name
        except ValueError:
            return str(label)
    name = getattr(label, "name", None) or str(label)
    return name.upper() if name.upper() in m.MetricLabel.__members__ else name


def _enum_labels_only(series: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
    """Series labels stay inside Clarifai's MetricLabel enum (a gRPC response cannot carry
    another name). Our extension labels (DEPLOYMENT_ID on model metrics; ``series``,
    ``capacity_type``, ``state`` on node counts) are kept only when the query itself named
    them in a filter or a group-by, which only a JSON client can do. Dropping DEPLOYMENT_ID
    merges no series: one deployment per model per nodepool, and MODEL_ID/NODEPOOL_ID stay."""
    asked = {_label_str(f.label) for f in query.filters or []}
    asked |= {_label_str(lb) for lb in (query.aggregate.labels if query.aggregate else [])}
    keep = set(m.MetricLabel.__members__) | asked
    for s in series:
        s["labels"] = [lb for lb in s.get("labels") or [] if _label_str(lb.get("name")) in keep]
    return series


def _store_node_counts(plane: Plane, user: str, q: Any) -> tuple[list[dict[str, Any]], str]:
    """Without a metrics engine: NODEPOOL_NODE_COUNT as a step series of the nodepools'
    enforced minimum (the floor the pool keeps); other metric types have no series."""
    resolution = q.resolution or "5m"
    try:
        step = m.parse_duration(resolution)
    except (InvalidInput, ValueError) as e:
        raise Fail(C.BAD_REQUEST, f"query.resolution: {e}") from None
    end = q.end_time or plane.clock.now()
    start = q.start_time or end - timedelta(hours=1)
    if step <= 0 or end <= start:
        raise Fail(
            C.BAD_REQUEST, "query: start_time must be before end_time and resolution positive."
        )
    n = int((end - start).total_seconds() // step) + 1
    if n > 20000:
        raise Fail(
            C.BAD_REQUEST,
            f"query: {n} points requested; use a coarser resolution (at most 20000 points).",
        )
    if int(q.metric_type) != int(m.MetricType.NODEPOOL_NODE_COUNT):
        return [], resolution
    want: dict[str, set[str]] = {}
    for f in q.filters or []:
        label = f.label.name if hasattr(f.label, "name") else str(f.label)
        values = {f.equals} if f.equals else set(f.in_ or [])
        want[label] = want.get(label, values) & values
    series = []
    for np in plane.store.nodepools_wire(user):
        cc_id = np["compute_cluster"]["id"]
        if not (
            {cc_id} & want.get("COMPUTE_CLUSTER_ID", {cc_id})
            and {np["id"]} & want.get("NODEPOOL_ID", {np["id"]})
        ):
            continue
        revs = plane.store.nodepool_revisions(user, cc_id, np["id"])
        points = []
        for k in range(n):
            t = start + timedelta(seconds=k * step)
            value = 0
            for eff, rev in revs:
                if eff <= t:
                    value = rev.enforced_min_instances or 0
            point: dict[str, Any] = {"timestamp": st.rfc3339(t)}
            if value:
                point["value"] = float(value)
            points.append(point)
        series.append(
            {
                "labels": [
                    {"name": "COMPUTE_CLUSTER_ID", "value": cc_id},
                    {"name": "NODEPOOL_ID", "value": np["id"]},
                ],
                "value": points,
            }
        )
    return series, resolution


def list_metric_labels(plane: Plane, rq: Rq) -> dict[str, Any]:
    types = []
    for raw in rq.query.get("metric_types", []):
        try:
            types.append(m.MetricType[raw] if not raw.isdigit() else m.MetricType(int(raw)))
        except (KeyError, ValueError):
            raise Fail(C.BAD_REQUEST, f"metric_types: unknown metric type {raw!r}.") from None
    if not types:
        types = [t for t in m.MetricType if int(t)]
    nodepools = plane.store.nodepools_wire(rq.user)
    deployments = plane.store.deployments_wire(rq.user)
    clusters = sorted({np["compute_cluster"]["id"] for np in nodepools})
    np_ids = sorted({np["id"] for np in nodepools})
    models = sorted(
        {((d.get("worker") or {}).get("model") or {}).get("id", "") for d in deployments} - {""}
    )
    out = []
    for t in types:
        labels = [{"label": 5, "values": clusters}, {"label": 6, "values": np_ids}]
        if t.name.startswith("MODEL_"):
            labels.append({"label": 2, "values": models})
        out.append({"metric_type": int(t), "labels": [x for x in labels if x["values"]] or []})
    return {"metric_type_labels": out}


# ListLogEntriesRequest fields naming sources the local plane has no logs of: refused by name
_LOG_SOURCES_NOT_SERVED = (
    "model_id",
    "workflow_id",
    "pipeline_id",
    "pipeline_version_id",
    "pipeline_version_run_id",
    "pipeline_step_id",
    "pipeline_step_version_id",
)


def list_log_entries(plane: Plane, rq: Rq) -> dict[str, Any]:
    """ListLogEntries (every binding). By default as Clarifai shapes it, every field a field of
    the clarifai-grpc message: ``meta`` is the ComputeSourceMetadata of the source (user,
    cluster, nodepool, runner) and each ``message`` starts with the event's RFC 3339 time
    (``clarifai deployment logs`` prints messages only and tells entries apart by them).

    ``event_fields=true`` (our JSON extension; our client asks for it, a gRPC request cannot)
    keeps each event's fields in ``meta`` instead (EVENT_COLUMNS: timestamp, kind, count,
    capacity_type, reason) and the message as the simulator wrote it.

    A runner named in the path must exist in that nodepool (RUNNER_DOES_NOT_EXIST). A
    deployment runner's ``runner.events`` are the simulator's events of its nodepool
    (scale-up/down, preemption, spot fallback, cold start); its ``runner`` log (model stdout
    on Clarifai) shows the same lines, the only thing a simulated runner prints. A user runner
    has no log here; without a runner, only ``runner.events`` has entries."""
    for name in _LOG_SOURCES_NOT_SERVED:
        if rq.q1(name):
            raise Fail(
                C.BAD_REQUEST,
                f"{name}: the local control plane keeps logs of compute runners only (by "
                f"compute cluster, nodepool, runner or model version); omit {name}.",
            )
    cc_id = rq.path.get("cc") or rq.q1("compute_cluster_id")
    if not cc_id:
        raise Fail(C.BAD_REQUEST, "compute_cluster_id: name the compute cluster of the logs.")
    np_id = rq.path.get("np") or rq.q1("nodepool_id") or None
    rid = rq.path.get("runner_id") or rq.q1("runner_id") or None
    version = rq.path.get("version") or rq.q1("model_version_id") or None
    log_type = rq.path.get("log_type") or rq.q1("log_type") or ""
    source: dict[str, Any] = {"user_app_id": {"user_id": rq.user}, "compute_cluster_id": cc_id}
    # the cluster's owner: compute_cluster_user_id when given, else as `runners.cluster_user`
    # (the CLI asks as the model's owner)
    owner = rq.path.get("cc_user") or rq.q1("compute_cluster_user_id")
    owner = plane.owner if owner == "me" else owner or runners.cluster_user(plane, rq.user, cc_id)
    if owner != rq.user:
        source["compute_cluster_user_id"] = owner
        rq = Rq(path=rq.path, query=rq.query, body=rq.body, user=owner)
    events = log_type == "runner.events"
    if version and not rid:  # the runner of that model version on the nodepool, if any
        if not np_id:
            raise Fail(C.BAD_REQUEST, "nodepool_id: name the nodepool of the model version's logs.")
        source["model_version_id"] = version
        found = runners.list_runners(
            plane,
            Rq(
                path={"cc": cc_id, "np": np_id},
                query={"model_version_ids": [version]},
                body={},
                user=rq.user,
            ),
        )["runners"]
        rid = found[0]["id"] if found else None
        if rid is None:
            events = False
    if rid:
        if not np_id:
            raise Fail(C.BAD_REQUEST, f"nodepool_id: name the nodepool of runner '{rid}'.")
        _, dep = runners.find_runner(plane, rq.user, cc_id, np_id, rid)
        source["runner_id"] = rid
        events = dep is not None and log_type in ("runner", "runner.events")
    if np_id:
        source["nodepool_id"] = np_id
    entries, page, per_page = _entries(plane, rq, cc_id, np_id, events)
    if not rq.flag("event_fields"):
        entries = [
            {
                "message": f"{(e.get('meta') or {}).get('timestamp', '')} {e.get('message', '')}".strip(),
                "log_type": log_type,
                "meta": source,
            }
            for e in entries
        ]
    return {"log_entries": entries, "page": page, "per_page": per_page}


def _entries(
    plane: Plane, rq: Rq, cc_id: str, np_id: str | None, events: bool
) -> tuple[list[dict[str, Any]], int, int]:
    """(one page of the simulator's events of a nodepool or a whole cluster, oldest first,
    page, per_page). Without a page the last one (the newest events)."""
    per_page = rq.per_page(LOG_PER_PAGE)
    if np_id:
        plane.nodepool_or_fail(rq.user, cc_id, np_id)
        pools = [np_id]
    else:
        plane.cluster_or_fail(rq.user, cc_id)
        pools = (
            [np["id"] for np in plane.store.nodepools_wire(rq.user, cc_id)]
            if cc_id != SHARED_CLUSTER_ID
            else []
        )
    if not events or plane.metrics is None or not pools:
        return [], rq.page(1), per_page
    if len(pools) == 1:
        count = int(plane.metrics.events_count(rq.user, cc_id, pools[0]))
        page = rq.page(max(1, math.ceil(count / per_page)))
        entries = plane.metrics.events(rq.user, cc_id, pools[0], page, per_page)
    else:  # a whole cluster: every nodepool's events, merged by time
        check = getattr(plane.metrics, "check_log_cost", None)
        if check is not None:  # bounded: each pool's kept history may be simulated
            try:
                check(len(pools))
            except ValueError as e:
                raise Fail(C.BAD_REQUEST, f"{e}.") from None
        entries = []
        for np in pools:
            count = int(plane.metrics.events_count(rq.user, cc_id, np))
            if count:
                entries += plane.metrics.events(rq.user, cc_id, np, 1, count)
        entries.sort(key=lambda e: str((_wire_of(e).get("meta") or {}).get("timestamp", "")))
        page = rq.page(max(1, math.ceil(len(entries) / per_page)))
        entries = entries[(page - 1) * per_page : page * per_page]
    return [_wire_of(e) for e in entries], page, per_page


def _wire_of(x: Any) -> dict[str, Any]:
    return x.to_wire() if hasattr(x, "to_wire") else dict(x)
