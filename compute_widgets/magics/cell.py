"""`%%compute [--dry-run | --apply] [--cluster CC]`: Clarifai CLI YAML in a cell.

Documents are created in dependency order (clusters, nodepools, deployments). Everything is
validated, and every parent and name is checked against the server, before anything is
created: a cell either fails up front with every problem listed, or runs in full (a failure
half-way, e.g. a server error, is reported with what was already done; re-run with --apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.parsing import HelpShown, UsageParser, split_line

ORDER = {"compute_cluster": 0, "nodepool": 1, "deployment": 2}
LABEL = {"compute_cluster": "compute cluster", "nodepool": "nodepool", "deployment": "deployment"}


def cell_parser() -> UsageParser:
    p = UsageParser(prog="%%compute", description="Create (default), validate or apply Clarifai CLI YAML.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="validate only; report what would change")
    mode.add_argument("--apply", action="store_true", help="create, or update what already exists")
    p.add_argument("--cluster", metavar="CC", help="cluster for nodepools that name none")
    return p


@dataclass
class Item:
    index: int  # 1-based position in the cell
    kind: str
    model: Any
    cluster: str = ""  # nodepools: the parent cluster
    current: Any = None  # the resource as the server has it (None: does not exist)
    problems: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.current is not None

    @property
    def name(self) -> str:
        where = f" in {self.cluster}" if self.kind == "nodepool" and self.cluster else ""
        return f"{LABEL[self.kind]} {self.model.id!r}{where}"


def run_cell(m: Any, line: str, cell: str) -> Any:
    try:
        opts = cell_parser().parse_args(split_line(line))
    except HelpShown:
        return None
    items = parse_items(cell)
    client = m.get_client()
    resolve_parents(m, items, opts.cluster)
    check_items(client, items, create_only=not (opts.apply or opts.dry_run))
    problems = [f"document {i.index} ({i.name}): {p}" for i in items for p in i.problems]
    if problems:
        raise UsageError(f"nothing was created, {len(problems)} problem(s): " + "; ".join(problems))
    if opts.dry_run:
        return report(items, [("would update" if i.exists else "would create") for i in items])
    return execute(m, client, items)


def parse_items(cell: str) -> list[Item]:
    from compute_widgets.api.config import load_documents

    docs = load_documents(cell)
    if not docs:
        raise UsageError(
            "the cell holds no document: write Clarifai CLI YAML with a compute_cluster:, "
            "nodepool: or deployment: key (several documents separated by ---)"
        )
    items = []
    for index, (kind, model) in enumerate(docs, start=1):
        if kind not in ORDER:
            raise UsageError(f"document {index}: unknown key {kind!r}; use compute_cluster, nodepool or deployment")
        items.append(Item(index, kind, model))
    return sorted(items, key=lambda i: (ORDER[i.kind], i.index))


def resolve_parents(m: Any, items: list[Item], line_cluster: str | None) -> None:
    """Fill each nodepool's cluster and each deployment's nodepool refs (explicit wins)."""
    from compute_widgets.api.models import ComputeCluster, Nodepool

    client = m.get_client()
    cell_clusters = [i.model.id for i in items if i.kind == "compute_cluster" and i.model.id]
    pool_owner = {}
    for item in items:
        if not item.model.id:
            item.problems.append("`id:` is missing")
        if item.kind == "nodepool":
            explicit = item.model.compute_cluster.id if item.model.compute_cluster else ""
            cc = explicit or line_cluster or (cell_clusters[0] if len(cell_clusters) == 1 else "") or m.default_cluster
            if not cc:
                how = " (the cell has several clusters)" if len(cell_clusters) > 1 else ""
                item.problems.append(
                    f"which cluster{how}? add `compute_cluster: {{id: CC}}` to the nodepool, a "
                    "compute_cluster: document, `%%compute --cluster CC`, or "
                    "`%config ComputeMagics.default_cluster`"
                )
                continue
            item.cluster = cc
            item.model = item.model.model_copy(
                update={"compute_cluster": ComputeCluster(id=cc, user_id=client.user_id)}
            )
            pool_owner.setdefault(item.model.id, cc)
    pools_in_cell = [i for i in items if i.kind == "nodepool" and i.cluster]
    for item in items:
        if item.kind != "deployment":
            continue
        model = item.model
        updates: dict[str, Any] = {}
        if not model.user_id:
            updates["user_id"] = client.user_id
        refs = list(model.nodepools)
        if not refs and not model.deployment_nodepools and len(pools_in_cell) == 1:
            only = pools_in_cell[0]
            refs = [Nodepool(id=only.model.id)]
        fixed = []
        for ref in refs:
            cc = ref.compute_cluster.id if ref.compute_cluster and ref.compute_cluster.id else ""
            cc = cc or pool_owner.get(ref.id, "") or line_cluster or m.default_cluster
            if not cc:
                item.problems.append(
                    f"nodepool {ref.id!r}: which cluster? add `compute_cluster: {{id: CC}}` to it"
                )
            fixed.append(
                ref.model_copy(update={"compute_cluster": ComputeCluster(id=cc, user_id=client.user_id)})
            )
        if refs:
            updates["nodepools"] = fixed
        item.model = model.model_copy(update=updates)


def check_items(client: Any, items: list[Item], create_only: bool) -> None:
    """Business rules of every document, then names and parents against the server."""
    for item in items:
        item.problems.extend(p.message for p in item.model.problems())
    if any(i.problems for i in items):
        return  # fix the documents first; no server round trips for a broken cell
    in_cell = {("compute_cluster", i.model.id) for i in items if i.kind == "compute_cluster"}
    in_cell |= {("nodepool", i.cluster, i.model.id) for i in items if i.kind == "nodepool"}
    for item in items:
        item.current = fetch(client, item)
        if item.exists and create_only:
            item.problems.append("already exists: use `%%compute --apply` to update it, or pick another id")
        if item.exists and item.kind == "compute_cluster":
            keep_cluster_placement(item)
        if (
            item.kind == "nodepool"
            and ("compute_cluster", item.cluster) not in in_cell
            and fetch(client, Item(0, "compute_cluster", _Ref(item.cluster))) is None
        ):
            item.problems.append(f"cluster {item.cluster!r} does not exist; add a compute_cluster: document")
        if item.kind == "deployment":
            for ref in item.model.nodepools:
                cc = ref.compute_cluster.id if ref.compute_cluster else ""
                if ("nodepool", cc, ref.id) in in_cell:
                    continue
                if fetch(client, Item(0, "nodepool", _Ref(ref.id), cluster=cc)) is None:
                    item.problems.append(f"nodepool {ref.id!r} does not exist in cluster {cc!r}")


@dataclass
class _Ref:
    id: str


def keep_cluster_placement(item: Item) -> None:
    """A cluster's cloud and region are fixed at creation: --apply may not move it."""
    cur, new = item.current, item.model
    cur_cloud = cur.cloud_provider.id if cur.cloud_provider else ""
    new_cloud = new.cloud_provider.id if new.cloud_provider else ""
    if (cur_cloud, cur.region) != (new_cloud, new.region):
        item.problems.append(
            f"cloud_provider/region cannot change ({cur_cloud}/{cur.region} -> "
            f"{new_cloud}/{new.region}): create a new cluster instead"
        )
        return
    item.model = new.model_copy(update={"cloud_provider": cur.cloud_provider, "region": cur.region})


def fetch(client: Any, item: Item) -> Any:
    """The resource as the server has it, or None when it does not exist (404)."""
    from compute_widgets.api.errors import ApiError

    try:
        if item.kind == "compute_cluster":
            return client.get_cluster(item.model.id)
        if item.kind == "nodepool":
            return client.get_nodepool(item.cluster, item.model.id)
        return client.get_deployment(item.model.id)
    except ApiError as exc:
        if exc.http_status == 404:
            return None
        raise


def execute(m: Any, client: Any, items: list[Item]) -> Any:
    from compute_widgets.api.errors import ComputeError
    from compute_widgets.magics.errors import to_usage_error
    from compute_widgets.magics.progress import Progress

    progress = Progress(total=len(items), enabled=m.show_progress and len(items) > 1)
    done: list[str] = []
    actions = []
    for item in items:
        verb = "updating" if item.exists else "creating"
        progress.step(f"{verb} {item.name}")
        try:
            if item.kind == "compute_cluster":
                (client.patch_cluster if item.exists else client.create_cluster)(item.model)
            elif item.kind == "nodepool":
                if item.exists:
                    client.patch_nodepool(item.cluster, item.model, action="overwrite")
                else:
                    client.create_nodepool(item.cluster, item.model)
            else:
                (client.patch_deployment if item.exists else client.create_deployment)(item.model)
        except ComputeError as exc:
            m.invalidate_ids()
            usage = to_usage_error(exc, client)
            progress.update(f"failed at {item.name}")
            already = ", ".join(done) or "nothing"
            raise UsageError(
                f"{item.name} failed: {usage or exc} (done before it: {already}; nothing was "
                "rolled back: fix the cell and re-run it with --apply)"
            ) from None
        done.append(f"{'updated' if item.exists else 'created'} {item.name}")
        actions.append("updated" if item.exists else "created")
    m.invalidate_ids()
    progress.finish(f"done: {len(items)} document(s)")
    return report(items, actions)


def report(items: list[Item], actions: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "kind": [i.kind for i in items],
            "id": [i.model.id for i in items],
            "cluster": [i.cluster for i in items],
            "action": actions,
        }
    )

