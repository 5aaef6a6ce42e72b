"""`%compute nodepools|np|nodepool list|create|scale|delete`."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.cmd_clusters import load_one
from compute_widgets.magics.display import ModelView
from compute_widgets.magics.parsing import positive_int


def build_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster_id", nargs="?", metavar="CC", help="cluster ID (default: all clusters)")


def run_list(magics: Any, args: argparse.Namespace) -> Any:
    """List nodepools of one cluster, or of every cluster (a DataFrame)."""
    from compute_widgets.api.client import ResultList
    from compute_widgets.api.models import Nodepool

    client = magics.get_client()
    nodepools = ResultList(client.iter_nodepools(args.cluster_id or None, per_page=magics.page_size), Nodepool)
    if args.cluster_id:
        magics.cache_put(("nodepools", args.cluster_id), [n.id for n in nodepools])
    return nodepools.to_dataframe()


def split_ids(magics: Any, ids: list[str], what: str) -> tuple[str, str]:
    """`CC NP`, or just `NP` with `default_cluster` set."""
    if len(ids) == 2:
        return ids[0], ids[1]
    if len(ids) == 1:
        return magics.cluster_id(None, what), ids[0]
    raise UsageError(f"{what} takes CC NP (cluster and nodepool IDs), got {len(ids)} IDs")


def build_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="CC NP", help="cluster ID and new nodepool ID")
    p.add_argument("--config", metavar="FILE", help="Clarifai CLI YAML with a nodepool: key")
    p.add_argument("--instance", metavar="TYPE", help="instance type ID, e.g. g5.xlarge")
    p.add_argument("--min", type=positive_int, dest="min_instances", help="min nodes (default 0)")
    p.add_argument("--max", type=positive_int, dest="max_instances", help="max nodes (default 1)")
    spot = p.add_mutually_exclusive_group()
    spot.add_argument("--spot", action="store_true", help="spot nodes, on-demand fallback")
    spot.add_argument("--spot-only", action="store_true", help="spot nodes only")
    p.add_argument("--description", help="free text")


def run_create(magics: Any, args: argparse.Namespace) -> Any:
    """Create a nodepool: `CC NP --instance g5.xlarge --min 0 --max 3 [--spot]` or `--config FILE`."""
    from compute_widgets.api.models import ComputeCluster, InstanceType, Nodepool

    cc, np_id = split_ids(magics, args.ids, "`nodepools create`")
    client = magics.get_client()
    if args.config:
        nodepool = load_one(args.config, "nodepool")
        updates: dict[str, Any] = {"id": np_id}
        type_id = args.instance or nodepool.instance_type_id
        if args.instance:
            updates["instance_types"] = [instance_type(client, cc, args.instance)]
        if args.min_instances is not None:
            updates["min_instances"] = args.min_instances
        if args.max_instances is not None:
            updates["max_instances"] = args.max_instances
        if args.spot or args.spot_only:  # the rule reads what the catalog's type allows
            it = updates.get("instance_types", [None])[0]
            it = it or (instance_type(client, cc, type_id) if type_id else InstanceType())
            updates["node_capacity_type"] = it.capacity_types_for(args.spot, args.spot_only)
        if args.description is not None:
            updates["description"] = args.description
        nodepool = nodepool.model_copy(update=updates)
    else:
        if not args.instance:
            raise UsageError(
                "`nodepools create` needs --instance TYPE (see `%compute li`) or --config FILE"
            )
        it = instance_type(client, cc, args.instance)
        nodepool = Nodepool(
            id=np_id,
            description=args.description or "",
            instance_types=[it],
            node_capacity_type=it.capacity_types_for(args.spot, args.spot_only),
            min_instances=args.min_instances if args.min_instances is not None else 0,
            max_instances=args.max_instances if args.max_instances is not None else 1,
        )
    nodepool = nodepool.model_copy(
        update={"compute_cluster": ComputeCluster(id=cc, user_id=client.user_id)}
    )
    nodepool.check()
    created = client.create_nodepool(cc, nodepool)
    magics.invalidate_ids()
    return ModelView("nodepool", created)


def instance_type(client: Any, cc: str, type_id: str) -> Any:
    """The catalog entry of `type_id` in the cluster's cloud and region (specs included)."""
    cluster = client.get_cluster(cc)
    provider = cluster.cloud_provider.id if cluster.cloud_provider else "all"
    region = cluster.region or "all"
    types = client.list_instance_types(provider or "all", region)
    for it in types:
        if it.id == type_id:
            return it
    near = ", ".join(sorted(it.id for it in types)[:12])
    raise UsageError(
        f"instance type {type_id!r} is not offered in {provider}/{region} (cluster {cc!r}). "
        f"Some that are: {near}. See `%compute li --cloud {provider} --region {region}`"
    )


def build_scale(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="CC NP", help="cluster and nodepool IDs")
    p.add_argument("--min", type=positive_int, dest="min_instances", help="new min nodes")
    p.add_argument("--max", type=positive_int, dest="max_instances", help="new max nodes")


def run_scale(magics: Any, args: argparse.Namespace) -> Any:
    """Change a nodepool's autoscaling bounds: `CC NP --min 0 --max 5`."""
    if args.min_instances is None and args.max_instances is None:
        raise UsageError("`nodepools scale` needs --min and/or --max")
    cc, np_id = split_ids(magics, args.ids, "`nodepools scale`")
    client = magics.get_client()
    current = client.get_nodepool(cc, np_id)
    updates = {}
    if args.min_instances is not None:
        updates["min_instances"] = args.min_instances
    if args.max_instances is not None:
        updates["max_instances"] = args.max_instances
    changed = current.model_copy(update=updates)
    changed.check()
    patched = client.patch_nodepool(cc, changed, action="overwrite")
    return ModelView("nodepool", patched)


def build_delete(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="CC NP", help="cluster ID, then nodepool ID(s)")


def run_delete(magics: Any, args: argparse.Namespace) -> None:
    """Delete nodepools of a cluster: `CC NP [NP ...]` (no prompt, like the CLI)."""
    if len(args.ids) == 1:
        cc, ids = magics.cluster_id(None, "`nodepools delete`"), args.ids
    else:
        cc, ids = args.ids[0], args.ids[1:]
    magics.get_client().delete_nodepools(cc, ids)
    magics.invalidate_ids()
    print(f"Deleted nodepool(s) {', '.join(ids)} of cluster {cc}")
