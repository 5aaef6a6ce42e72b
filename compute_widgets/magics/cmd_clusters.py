"""`%compute clusters|cc|computecluster list|create|delete`."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.display import ModelView


def build_list(p: argparse.ArgumentParser) -> None:
    pass


def run_list(magics: Any, args: argparse.Namespace) -> Any:
    """List compute clusters (a DataFrame: `df = %compute cc list`)."""
    from compute_widgets.api.client import ResultList
    from compute_widgets.api.models import ComputeCluster

    clusters = ResultList(magics.get_client().iter_clusters(per_page=magics.page_size), ComputeCluster)
    magics.cache_put(("clusters",), [c.id for c in clusters])
    return clusters.to_dataframe()


def build_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster_id", nargs="?", metavar="CC", help="cluster ID (or `id:` in --config)")
    p.add_argument("--config", metavar="FILE", help="Clarifai CLI YAML with a compute_cluster: key")
    p.add_argument("--provider", help="cloud provider ID (default aws)")
    p.add_argument("--region", help="region (default us-east-1)")
    p.add_argument("--description", help="free text")


def run_create(magics: Any, args: argparse.Namespace) -> Any:
    """Create a compute cluster from flags or a --config YAML file."""
    from compute_widgets.api.models import CloudProvider, ComputeCluster

    if args.config:
        cluster = load_one(args.config, "compute_cluster")
        updates: dict[str, Any] = {}
        if args.cluster_id:
            updates["id"] = args.cluster_id
        if args.provider:
            updates["cloud_provider"] = CloudProvider(id=args.provider)
        if args.region:
            updates["region"] = args.region
        if args.description is not None:
            updates["description"] = args.description
        cluster = cluster.model_copy(update=updates)
    else:
        cluster = ComputeCluster(
            id=args.cluster_id or "",
            description=args.description or "",
            cloud_provider=CloudProvider(id=args.provider or "aws"),
            region=args.region or "us-east-1",
            managed_by="clarifai",
            cluster_type="dedicated",
        )
    if not cluster.id:
        raise UsageError("the new cluster needs an ID: `%compute cc create CC ...` or `id:` in --config")
    cluster.check()
    created = magics.get_client().create_cluster(cluster)
    magics.invalidate_ids()
    return ModelView("compute cluster", created)


def build_delete(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster_ids", nargs="+", metavar="CC", help="cluster ID(s)")


def run_delete(magics: Any, args: argparse.Namespace) -> None:
    """Delete compute clusters (no prompt, like the CLI)."""
    magics.get_client().delete_clusters(list(args.cluster_ids))
    magics.invalidate_ids()
    print(f"Deleted compute cluster(s): {', '.join(args.cluster_ids)}")


def load_one(path: str, kind: str) -> Any:
    """The `kind` model of a Clarifai CLI YAML file; a UsageError when it has none."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read --config {path!r}: {exc.strerror or exc}") from None
    from compute_widgets.api.config import load_config

    models = load_config(text)
    if kind not in models:
        keys = ", ".join(models) or "none"
        raise UsageError(f"--config {path!r} has no `{kind}:` key (found: {keys})")
    return models[kind]
