"""`%compute deployments|dp|deployment list|create|get|status|logs|delete`."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.cmd_clusters import load_one
from compute_widgets.magics.display import ModelView
from compute_widgets.magics.parsing import positive_int

LOG_TYPES = {"model": "runner", "events": "runner.events"}


def build_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("nodepool_id", nargs="?", metavar="NP", help="only deployments on this nodepool")
    p.add_argument("--cluster", metavar="CC", help="only deployments in this cluster")


def run_list(magics: Any, args: argparse.Namespace) -> Any:
    """List deployments, all or those on one nodepool (a DataFrame)."""
    from compute_widgets.api.client import ResultList
    from compute_widgets.api.models import Deployment

    pages = magics.get_client().iter_deployments(
        nodepool_id=args.nodepool_id or None,
        compute_cluster_id=args.cluster or None,
        per_page=magics.page_size,
    )
    deployments = ResultList(pages, Deployment)
    if not args.nodepool_id and not args.cluster:
        magics.cache_put(("deployments",), [d.id for d in deployments])
    return deployments.to_dataframe()


def parse_model(text: str) -> Any:
    """`user/app/model[/version]` -> ModelRef."""
    from compute_widgets.api.models import ModelRef, ModelVersion

    parts = text.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise UsageError(f"--model must be USER/APP/MODEL or USER/APP/MODEL/VERSION, got {text!r}")
    version = ModelVersion(id=parts[3]) if len(parts) == 4 else None
    return ModelRef(id=parts[2], user_id=parts[0], app_id=parts[1], model_version=version)


def build_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("nodepool_id", metavar="NP", help="nodepool to deploy on")
    p.add_argument("deployment_id", nargs="?", metavar="DEP", help="deployment ID (or `id:` in --config)")
    p.add_argument("--config", metavar="FILE", help="Clarifai CLI YAML with a deployment: key")
    p.add_argument("--model", metavar="USER/APP/MODEL[/VERSION]", help="the model to deploy")
    p.add_argument("--cluster", metavar="CC", help="the nodepool's cluster (default: looked up)")
    p.add_argument("--min-replicas", type=positive_int, help="min replicas (default 0)")
    p.add_argument("--max-replicas", type=positive_int, help="max replicas (default 1)")
    p.add_argument("--description", help="free text")


def nodepool_cluster(magics: Any, client: Any, np_id: str, given: str | None) -> str:
    """The cluster of nodepool `np_id`: --cluster, the default cluster, else looked up."""
    if given:
        return given
    if magics.default_cluster:
        return magics.default_cluster
    owners = sorted({(n.compute_cluster.id if n.compute_cluster else "") for n in client.list_nodepools(None) if n.id == np_id} - {""})
    if len(owners) == 1:
        return owners[0]
    if not owners:
        raise UsageError(f"no nodepool {np_id!r} in any cluster; see `%compute np list`")
    raise UsageError(f"nodepool {np_id!r} exists in clusters {', '.join(owners)}: pass --cluster CC")


def run_create(magics: Any, args: argparse.Namespace) -> Any:
    """Deploy a model on a nodepool: `NP DEP --model user/app/model [--min-replicas 0 --max-replicas 2]`."""
    from compute_widgets.api.models import (
        AutoscaleConfig,
        ComputeCluster,
        Deployment,
        Nodepool,
        Worker,
    )

    client = magics.get_client()
    if args.config:
        deployment = load_one(args.config, "deployment")
    elif args.model:
        deployment = Deployment(worker=Worker(model=parse_model(args.model)))
    else:
        raise UsageError("`deployments create` needs --model USER/APP/MODEL or --config FILE")
    updates: dict[str, Any] = {}
    if args.deployment_id:
        updates["id"] = args.deployment_id
    if args.model and args.config:
        updates["worker"] = Worker(model=parse_model(args.model))
    if args.description is not None:
        updates["description"] = args.description
    if not deployment.user_id:
        updates["user_id"] = client.user_id
    if not deployment.nodepools and not deployment.deployment_nodepools:
        cc = nodepool_cluster(magics, client, args.nodepool_id, args.cluster)
        updates["nodepools"] = [
            Nodepool(id=args.nodepool_id, compute_cluster=ComputeCluster(id=cc, user_id=client.user_id))
        ]
    scale = deployment.autoscale_config or AutoscaleConfig(min_replicas=0, max_replicas=1)
    scale_updates = {}
    if args.min_replicas is not None:
        scale_updates["min_replicas"] = args.min_replicas
    if args.max_replicas is not None:
        scale_updates["max_replicas"] = args.max_replicas
    if scale_updates or deployment.autoscale_config is None:
        updates["autoscale_config"] = scale.model_copy(update=scale_updates)
    deployment = deployment.model_copy(update=updates)
    if not deployment.id:
        raise UsageError("the new deployment needs an ID: `%compute dp create NP DEP ...`")
    deployment.check()
    created = client.create_deployment(deployment)
    magics.invalidate_ids()
    return ModelView("deployment", created)


def build_get(p: argparse.ArgumentParser) -> None:
    p.add_argument("deployment_id", metavar="DEP")


def run_get(magics: Any, args: argparse.Namespace) -> Any:
    """Show one deployment (status, replicas, nodepools)."""
    return ModelView("deployment", magics.get_client().get_deployment(args.deployment_id))


def build_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("deployment_id", metavar="DEP")
    p.add_argument("--log-type", choices=sorted(LOG_TYPES), default="events", help="default events")
    p.add_argument("--limit", type=positive_int, default=50, help="last N entries (default 50)")


def run_logs(magics: Any, args: argparse.Namespace) -> Any:
    """Log entries of a deployment's nodepool: `DEP [--log-type model|events]` (a DataFrame)."""
    import pandas as pd

    client = magics.get_client()
    deployment = client.get_deployment(args.deployment_id)
    pools = [(n.compute_cluster.id if n.compute_cluster else "", n.id) for n in deployment.nodepools]
    pools += [(d.compute_cluster.id if d.compute_cluster else "", d.id) for d in deployment.deployment_nodepools]
    pools = [p for p in pools if p[0] and p[1]]
    if not pools:
        raise UsageError(f"deployment {args.deployment_id!r} names no nodepool with a cluster")
    rows = []
    for cc, np_id in pools:
        for entry in client.list_log_entries(cc, np_id, log_type=LOG_TYPES[args.log_type]):
            meta = entry.meta or {}
            rows.append(
                {
                    "timestamp": meta.get("timestamp", ""),
                    "nodepool": np_id,
                    "kind": meta.get("kind", entry.log_type),
                    "message": entry.message,
                }
            )
    frame = pd.DataFrame(rows, columns=["timestamp", "nodepool", "kind", "message"])
    return frame.tail(args.limit).reset_index(drop=True)


def build_delete(p: argparse.ArgumentParser) -> None:
    p.add_argument("deployment_ids", nargs="+", metavar="DEP")


def run_delete(magics: Any, args: argparse.Namespace) -> None:
    """Delete deployments (no prompt, like the CLI)."""
    magics.get_client().delete_deployments(list(args.deployment_ids))
    magics.invalidate_ids()
    print(f"Deleted deployment(s): {', '.join(args.deployment_ids)}")
