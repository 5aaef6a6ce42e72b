"""The CRUD handlers of compute clusters, nodepools and deployments: one function per RPC,
``handler(plane, rq) -> body`` (the route table in `app` names each one)."""

from __future__ import annotations

from typing import Any

from compute_widgets.api import models as m
from compute_widgets.local import store as st
from compute_widgets.local.crud import (
    CLUSTER,
    DEPLOYMENT,
    NODEPOOL,
    SHARED_CLUSTER_ID,
    Plane,
    action_of,
    describe,
    ids_of,
    insert,
    merge_cascade,
    no_dupes,
    parse_items,
    patched,
    problems_of,
)
from compute_widgets.local.runners import with_metrics
from compute_widgets.local.wire import (
    C,
    Fail,
    Rq,
    plural,
    quote,
)

DEFAULT_AUTOSCALE = {  # docs GetDeployment sample (clarifai-api.md §6.2)
    "max_replicas": 1,
    "traffic_history_seconds": 300,
    "scale_down_delay_seconds": 300,
    "scale_up_delay_seconds": 300,
    "scale_to_zero_delay_seconds": 1800,
}


# -- clusters --------------------------------------------------------------------------------


def list_clusters(plane: Plane, rq: Rq) -> dict[str, Any]:
    page, per_page = rq.paging()
    offset = (page - 1) * per_page
    if offset == 0:
        items = [dict(plane.shared)] + plane.store.clusters_wire(rq.user, 0, per_page - 1)
    else:
        items = plane.store.clusters_wire(rq.user, offset - 1, per_page)
    return {"compute_clusters": items}


def get_cluster(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {"compute_cluster": plane.cluster_or_fail(rq.user, rq.path["cc"])}


def _validate_cluster(plane: Plane, model: Any, prefix: str) -> list[str]:
    problems = problems_of(model, prefix)
    provider = model.cloud_provider.id if model.cloud_provider else ""
    if problems:
        return problems
    if not plane.catalog.has_provider(provider):
        problems.append(
            f"{prefix}.cloud_provider.id: unknown cloud provider '{provider}'; choose one of {', '.join(plane.catalog.provider_ids)}"
        )
    elif not plane.catalog.has_region(provider, model.region):
        regions = ", ".join(plane.catalog.region_ids(provider)) or "(none available)"
        problems.append(
            f"{prefix}.region: '{model.region}' is not a region of {provider}; choose one of {regions}"
        )
    if model.cluster_type == "shared":
        problems.append(
            f"{prefix}.cluster_type: 'shared' clusters are created by Clarifai only; use 'dedicated'"
        )
    return problems


def _cluster_wire(model: Any) -> dict[str, Any]:
    wire = model.to_wire()
    wire.pop("key", None)  # a PAT is never stored
    wire.setdefault(
        "cluster_type", "local-dev" if model.cloud_provider.id == "local" else "dedicated"
    )
    wire.setdefault("managed_by", "user" if model.cloud_provider.id == "local" else "clarifai")
    name = model.cloud_provider.id
    wire["cloud_provider"] = {"id": name, "name": name}
    return wire


def post_clusters(plane: Plane, rq: Rq) -> dict[str, Any]:
    parsed = parse_items(CLUSTER, rq.body.get("compute_clusters"), "compute_clusters")
    problems = []
    for i, (_, model) in enumerate(parsed):
        problems += _validate_cluster(plane, model, f"compute_clusters[{i}]")
    if problems:
        raise Fail(C.COMPUTE_CLUSTER_INVALID_ARGUMENT, "; ".join(problems) + ".")
    no_dupes(CLUSTER, [mo.id for _, mo in parsed])
    out = []
    with plane.store.transaction():
        for _, model in parsed:
            if model.id == SHARED_CLUSTER_ID:
                raise Fail(
                    C.DATABASE_DUPLICATE_KEY,
                    f"Compute cluster '{SHARED_CLUSTER_ID}' already exists (the shared cluster).",
                )
            out.append(
                insert(
                    CLUSTER,
                    lambda w: plane.store.insert_cluster(rq.user, w),
                    _cluster_wire(model),
                )
            )
    return {"compute_clusters": out}


def patch_clusters(plane: Plane, rq: Rq) -> dict[str, Any]:
    action = action_of(CLUSTER, rq)
    parsed = parse_items(CLUSTER, rq.body.get("compute_clusters"), "compute_clusters")
    no_dupes(CLUSTER, [mo.id for _, mo in parsed])
    out = []
    with plane.store.transaction():
        for i, (raw, model) in enumerate(parsed):
            if model.id == SHARED_CLUSTER_ID:
                raise Fail(
                    C.COMPUTE_CLUSTER_INVALID_REQUEST,
                    f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai and cannot be changed.",
                )
            stored = plane.cluster_or_fail(rq.user, model.id)
            new = patched(CLUSTER, action, stored, raw, model)
            new_model = m.ComputeCluster.from_wire(new)
            problems = _validate_cluster(plane, new_model, f"compute_clusters[{i}]")
            if problems:
                raise Fail(C.COMPUTE_CLUSTER_INVALID_ARGUMENT, "; ".join(problems) + ".")
            out.append(plane.store.replace_cluster(rq.user, _cluster_wire(new_model)))
    return {"compute_clusters": out}


def delete_clusters(plane: Plane, rq: Rq) -> dict[str, Any]:
    ids = ids_of(CLUSTER, rq)
    if SHARED_CLUSTER_ID in ids:
        raise Fail(
            C.COMPUTE_CLUSTER_INVALID_REQUEST,
            f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai and cannot be deleted; nothing was deleted.",
        )
    total = st.Cascade()
    with plane.store.transaction():
        missing = [i for i in ids if plane.store.cluster_wire(rq.user, i) is None]
        if missing:
            raise Fail(
                C.COMPUTE_CLUSTER_DOES_NOT_EXIST,
                f"Compute cluster {quote(missing)} not found for user '{rq.user}'; nothing was deleted.",
            )
        for i in ids:
            merge_cascade(total, plane.store.delete_cluster(rq.user, i))
    for cc, np in total.nodepools:
        plane.invalidate(rq.user, cc, np)
    return {"status": describe(total)}


# -- nodepools -------------------------------------------------------------------------------


def _no_active_usage(rq: Rq) -> None:
    """ListNodepools/GetNodepool ``active_usage``: Clarifai documents no meaning for it, so a
    true value is refused by name rather than ignored (false = unset in proto3)."""
    if rq.flag("active_usage"):
        raise Fail(
            C.NODEPOOL_INVALID_ARGUMENT,
            "active_usage: the local control plane does not report nodepool usage this way; "
            "omit active_usage (PostMetricsQuery gives each nodepool's node count and utilization).",
        )


def list_nodepools(plane: Plane, rq: Rq) -> dict[str, Any]:
    _no_active_usage(rq)
    page, per_page = rq.paging()
    cc_id = rq.path.get("cc")
    if cc_id is not None:
        plane.cluster_or_fail(rq.user, cc_id)
    items = plane.store.nodepools_wire(rq.user, cc_id, (page - 1) * per_page, per_page)
    return {"nodepools": [plane.live(rq.user, np) for np in items]}


def get_nodepool(plane: Plane, rq: Rq) -> dict[str, Any]:
    _no_active_usage(rq)
    np = plane.nodepool_or_fail(rq.user, rq.path["cc"], rq.path["np"])
    return {"nodepool": plane.live(rq.user, np)}


def _validate_nodepool(
    plane: Plane, cluster: dict[str, Any], model: Any, prefix: str
) -> tuple[int, list[str]]:
    """(code, problems): business rules, then the catalog (type known, offered in the
    cluster's provider/region, capacity types allowed)."""
    problems = problems_of(model, prefix)
    if problems:
        return C.NODEPOOL_INVALID_ARGUMENT, problems
    it_id = model.instance_types[0].id
    provider, region = cluster["cloud_provider"]["id"], cluster["region"]
    entry = plane.catalog.entry(it_id)
    if entry is None:
        return C.INSTANCE_TYPE_DOES_NOT_EXIST, [
            f"{prefix}.instance_types[0].id: unknown instance type '{it_id}'; list them with "
            f"GET /v2/cloud_providers/{provider}/regions/{region}/instance_types"
        ]
    if not plane.catalog.offered_in(it_id, provider, region):
        return C.INSTANCE_TYPE_INVALID_ARGUMENT, [
            f"{prefix}.instance_types[0].id: '{it_id}' is offered by {entry['provider']} in "
            f"{', '.join(entry['regions'])}, not in this cluster's {provider} {region}; choose an "
            f"instance type of GET /v2/cloud_providers/{provider}/regions/{region}/instance_types"
        ]
    allowed = set(entry["capacity_types"])
    asked = [
        int(c)
        for c in (model.node_capacity_type.capacity_types if model.node_capacity_type else [])
    ]
    names = {1: "on-demand", 2: "spot"}
    bad = [names.get(c, str(c)) for c in asked if c not in allowed]
    if bad:
        ok = " and ".join(names[c] for c in sorted(allowed))
        return C.NODEPOOL_INVALID_ARGUMENT, [
            f"{prefix}.node_capacity_type.capacity_types: {it_id} does not offer {' and '.join(bad)} "
            f"capacity; it allows {ok} only"
        ]
    return 0, []


def _nodepool_wire(plane: Plane, cluster: dict[str, Any], model: Any) -> dict[str, Any]:
    wire = model.to_wire()
    it = plane.catalog.instance_type_wire(
        model.instance_types[0].id, cluster["cloud_provider"]["id"], cluster["region"]
    )
    wire["instance_types"] = [it]
    return wire


def post_nodepools(plane: Plane, rq: Rq) -> dict[str, Any]:
    cc_id = rq.path["cc"]
    cluster = plane.cluster_or_fail(rq.user, cc_id)
    if cc_id == SHARED_CLUSTER_ID:
        raise Fail(
            C.NODEPOOL_INVALID_REQUEST,
            f"The shared cluster '{SHARED_CLUSTER_ID}' is managed by Clarifai; create a dedicated compute cluster for your nodepools.",
        )
    parsed = parse_items(NODEPOOL, rq.body.get("nodepools"), "nodepools")
    code, problems = 0, []
    for i, (_, model) in enumerate(parsed):
        c, p = _validate_nodepool(plane, cluster, model, f"nodepools[{i}]")
        code, problems = code or c, problems + p
    if problems:
        raise Fail(code, "; ".join(problems) + ".")
    no_dupes(NODEPOOL, [mo.id for _, mo in parsed])
    out = []
    with plane.store.transaction():
        for _, model in parsed:
            wire = _nodepool_wire(plane, cluster, model)
            out.append(
                insert(NODEPOOL, lambda w: plane.store.insert_nodepool(rq.user, cc_id, w), wire)
            )
    for np in out:
        plane.invalidate(rq.user, cc_id, np["id"])
    return {"nodepools": [plane.live(rq.user, np) for np in out]}


def patch_nodepools(plane: Plane, rq: Rq) -> dict[str, Any]:
    cc_id = rq.path["cc"]
    action = action_of(NODEPOOL, rq)
    cluster = plane.cluster_or_fail(rq.user, cc_id)
    parsed = parse_items(NODEPOOL, rq.body.get("nodepools"), "nodepools")
    no_dupes(NODEPOOL, [mo.id for _, mo in parsed])
    out = []
    with plane.store.transaction():
        for i, (raw, model) in enumerate(parsed):
            stored = plane.nodepool_or_fail(rq.user, cc_id, model.id)
            stored.pop("status", None)
            stored.pop("status_description", None)
            new_model = m.Nodepool.from_wire(patched(NODEPOOL, action, stored, raw, model))
            code, problems = _validate_nodepool(plane, cluster, new_model, f"nodepools[{i}]")
            if problems:
                raise Fail(code, "; ".join(problems) + ".")
            wire = _nodepool_wire(plane, cluster, new_model)
            plane.store.replace_nodepool(rq.user, cc_id, wire)
            out.append(plane.store.nodepool_wire(rq.user, cc_id, model.id))
    for np in out:
        plane.invalidate(rq.user, cc_id, np["id"])
    return {"nodepools": [plane.live(rq.user, np) for np in out]}


def delete_nodepools(plane: Plane, rq: Rq) -> dict[str, Any]:
    cc_id = rq.path["cc"]
    ids = ids_of(NODEPOOL, rq)
    total = st.Cascade()
    with plane.store.transaction():
        plane.cluster_or_fail(rq.user, cc_id)
        missing = [i for i in ids if plane.store.nodepool_wire(rq.user, cc_id, i) is None]
        if missing:
            raise Fail(
                C.NODEPOOL_DOES_NOT_EXIST,
                f"Nodepool {quote(missing)} not found in compute cluster '{cc_id}'; nothing was deleted.",
            )
        for i in ids:
            merge_cascade(total, plane.store.delete_nodepool(rq.user, cc_id, i))
    for cc, np in total.nodepools:
        plane.invalidate(rq.user, cc, np)
    return {"status": describe(total)}


def post_nodepool_status(plane: Plane, rq: Rq) -> dict[str, Any]:
    cc_id, np_id = rq.path["cc"], rq.path["np"]
    raw = rq.body.get("status")
    if isinstance(raw, dict):  # tolerate {"status": {"code": ...}}
        raw = raw.get("code", raw.get("status"))
    try:
        if raw in (None, ""):
            status = m.NodepoolStatus(0)
        elif isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
            status = m.NodepoolStatus[raw.strip()]
        else:
            status = m.NodepoolStatus(int(raw))
        if status not in list(m.NodepoolStatus):  # an open enum parses 2**64 too: refuse it
            raise ValueError(raw)
    except (KeyError, ValueError, TypeError, OverflowError):
        names = ", ".join(f"{s.name} ({int(s)})" for s in m.NodepoolStatus)
        raise Fail(
            C.NODEPOOL_INVALID_ARGUMENT,
            f"status: {raw!r} is not a nodepool status; use one of {names}.",
        ) from None
    desc = rq.body.get("status_description") or ""
    if not isinstance(desc, str) or len(desc) > m.MAX_DESCRIPTION:
        raise Fail(
            C.NODEPOOL_INVALID_ARGUMENT,
            f"status_description must be a string of at most {m.MAX_DESCRIPTION} characters.",
        )
    plane.nodepool_or_fail(rq.user, cc_id, np_id)
    plane.store.set_nodepool_status(rq.user, cc_id, np_id, int(status), desc)
    plane.invalidate(rq.user, cc_id, np_id)
    return {}


# -- deployments -----------------------------------------------------------------------------


def list_deployments(plane: Plane, rq: Rq) -> dict[str, Any]:
    """Filters (ANDed): nodepool_id, compute_cluster_id, and the worker's version:
    ``model_version_ids`` or ``workflow_version_ids`` (a worker is a model or a workflow, so a
    deployment matches either list). ``scheduling_priorities`` is refused by name: deployments
    here have no scheduling priority to filter on."""
    if rq.values("scheduling_priorities"):
        raise Fail(
            C.DEPLOYMENT_INVALID_ARGUMENT,
            "scheduling_priorities: the local control plane does not filter deployments by "
            "scheduling priority; omit scheduling_priorities.",
        )
    page, per_page = rq.paging()
    models, flows = rq.values("model_version_ids"), rq.values("workflow_version_ids")
    where = dict(
        nodepool_id=rq.path.get("np") or rq.q1("nodepool_id") or None,
        compute_cluster_id=rq.path.get("cc") or rq.q1("compute_cluster_id") or None,
    )
    if not flows:
        items = plane.store.deployments_wire(
            rq.user, (page - 1) * per_page, per_page, model_version_ids=models or None, **where
        )
    else:  # rare: filtered here, not in SQL
        items = [
            d
            for d in plane.store.deployments_wire(rq.user, **where)
            if st.model_version_id(d) in models or _workflow_version(d) in flows
        ][(page - 1) * per_page : page * per_page]
    return {"deployments": with_metrics(plane, rq.user, items)}


def _workflow_version(d: dict[str, Any]) -> str:
    flow = (d.get("worker") or {}).get("workflow") or {}
    return str((flow.get("version") or {}).get("id") or "") if isinstance(flow, dict) else ""


def get_deployment(plane: Plane, rq: Rq) -> dict[str, Any]:
    d = plane.store.deployment_wire(rq.user, rq.path["dep"])
    if d is None:
        raise Fail(
            C.DEPLOYMENT_DOES_NOT_EXIST,
            f"Deployment '{rq.path['dep']}' not found for user '{rq.user}'.",
        )
    return {"deployment": with_metrics(plane, rq.user, [d])[0]}


def _validate_deployment(plane: Plane, user: str, model: Any, prefix: str) -> tuple[int, list[str]]:
    problems = problems_of(model, prefix)
    if problems:
        return C.DEPLOYMENT_INVALID_ARGUMENT, problems
    wire = model.to_wire()
    for cc, np in st.deployment_nodepool_refs(wire):
        if plane.store.nodepool_wire(user, cc, np) is None:
            return C.NODEPOOL_DOES_NOT_EXIST, [
                f"{prefix}: nodepool '{np}' not found in compute cluster '{cc}'"
            ]
    return 0, []


def _deployment_wire(model: Any) -> dict[str, Any]:
    wire = model.to_wire()
    if wire.get("desired_worker"):
        wire["worker"] = wire.pop("desired_worker")
    if "autoscale_config" not in wire:
        wire["autoscale_config"] = dict(DEFAULT_AUTOSCALE)
    wire.pop("deployment_metrics", None)
    return wire


def _model_clash(models: list[Any]) -> None:
    """Two deployments of one model on one nodepool inside this batch."""
    seen: dict[tuple[str, str, str], str] = {}
    for model in models:
        wire = model.to_wire()
        key = st.model_key(wire)
        for cc, np in st.deployment_nodepool_refs(wire):
            if key and (key, cc, np) in seen:
                raise Fail(
                    C.DEPLOYMENT_INVALID_ARGUMENT,
                    f"Deployments '{seen[key, cc, np]}' and '{model.id}' put the same model on nodepool '{np}' in compute cluster '{cc}'; one deployment per model per nodepool.",
                )
            seen[key, cc, np] = model.id


def post_deployments(plane: Plane, rq: Rq) -> dict[str, Any]:
    parsed = parse_items(DEPLOYMENT, rq.body.get("deployments"), "deployments")
    code, problems = 0, []
    for i, (_, model) in enumerate(parsed):
        c, p = _validate_deployment(plane, rq.user, model, f"deployments[{i}]")
        code, problems = code or c, problems + p
    if problems:
        raise Fail(code, "; ".join(problems) + ".")
    no_dupes(DEPLOYMENT, [mo.id for _, mo in parsed])
    _model_clash([mo for _, mo in parsed])
    out = []
    with plane.store.transaction():
        for _, model in parsed:
            wire = _deployment_wire(model)
            out.append(
                insert(DEPLOYMENT, lambda w: plane.store.insert_deployment(rq.user, w), wire)
            )
    for d in out:
        for cc, np in st.deployment_nodepool_refs(d):
            plane.invalidate(rq.user, cc, np)
    return {"deployments": out}


def patch_deployments(plane: Plane, rq: Rq) -> dict[str, Any]:
    action = action_of(DEPLOYMENT, rq)
    parsed = parse_items(DEPLOYMENT, rq.body.get("deployments"), "deployments")
    no_dupes(DEPLOYMENT, [mo.id for _, mo in parsed])
    out, touched = [], []
    with plane.store.transaction():
        for i, (raw, model) in enumerate(parsed):
            stored = plane.store.deployment_wire(rq.user, model.id)
            if stored is None:
                raise Fail(
                    C.DEPLOYMENT_DOES_NOT_EXIST,
                    f"Deployment '{model.id}' not found for user '{rq.user}'.",
                )
            if raw.get("desired_worker") and action != "remove":
                raw = {**raw, "worker": raw["desired_worker"]}
                raw.pop("desired_worker")
                model = model.model_copy(
                    update={"worker": model.desired_worker, "desired_worker": None}
                )
            new_model = m.Deployment.from_wire(patched(DEPLOYMENT, action, stored, raw, model))
            code, problems = _validate_deployment(plane, rq.user, new_model, f"deployments[{i}]")
            if problems:
                raise Fail(code, "; ".join(problems) + ".")
            touched += st.deployment_nodepool_refs(stored)
            wire = _deployment_wire(new_model)
            out.append(
                insert(DEPLOYMENT, lambda w: plane.store.replace_deployment(rq.user, w), wire)
            )
            touched += st.deployment_nodepool_refs(wire)
    for cc, np in dict.fromkeys(touched):
        plane.invalidate(rq.user, cc, np)
    return {"deployments": out}


def delete_deployments(plane: Plane, rq: Rq) -> dict[str, Any]:
    ids = ids_of(DEPLOYMENT, rq)
    touched = []
    with plane.store.transaction():
        missing = [i for i in ids if plane.store.deployment_wire(rq.user, i) is None]
        if missing:
            raise Fail(
                C.DEPLOYMENT_DOES_NOT_EXIST,
                f"Deployment {quote(missing)} not found for user '{rq.user}'; nothing was deleted.",
            )
        for i in ids:
            touched += st.deployment_nodepool_refs(plane.store.deployment_wire(rq.user, i) or {})
            plane.store.delete_deployment(rq.user, i)
    for cc, np in dict.fromkeys(touched):
        plane.invalidate(rq.user, cc, np)
    return {
        "status": {
            "code": C.SUCCESS,
            "description": f"Deleted {plural(len(ids), 'deployment')}: {quote(ids)}.",
        }
    }
