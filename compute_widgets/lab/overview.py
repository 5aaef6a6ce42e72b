"""One refresh of the Compute panel: clusters -> nodepools with status, nodes by capacity type
and $/h, as plain JSON for the browser.

Where each number comes from (all through compute_widgets.api's async client):

- ``node_count`` and ``status``: the nodepool listing (one paged ListNodepools for all clusters).
- nodes by capacity type: a pool that allows one capacity type runs only that type, so its split
  is its node count. A pool with spot *and* on-demand (spot with on-demand fallback) is split by
  one NODEPOOL_NODE_COUNT metrics query per cluster (grouped by nodepool and capacity type, the
  last complete minute). A backend without that query (it is the local plane's extension) or a
  refused query leaves the split unknown (``null``), never a guess. That query costs about as
  much as the listing, so a pool's split is kept (`SplitCache`) while its node count stays what
  it was, for at most `SPLIT_MAX_AGE` seconds; a changed count asks again at once.
- ``price_per_hour``: the instance type's listed price (ListInstanceTypes of the cluster's
  provider and region, read once per backend: prices do not move while the panel is open);
  ``cost_per_hour`` = price x node count. ``null`` when the type has no price.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from compute_widgets.api import ApiError, ComputeError, enum_label, provider_label

SPOT, ON_DEMAND = "spot", "on_demand"
SPLIT_CHUNK = 400  # nodepools per metrics query: well under the plane's 1,500 pool-segment cap
SPLIT_MAX_AGE = 30.0  # s a kept split is shown while its pool's node count does not move


class PriceBook:
    """$/h of instance types per (provider, region), listed once per backend."""

    def __init__(self) -> None:
        self._prices: dict[tuple[str, str], dict[str, float | None]] = {}
        self._lock = asyncio.Lock()

    async def prices(self, client: Any, provider: str, region: str) -> dict[str, float | None]:
        key = (provider, region)
        if key not in self._prices:
            async with self._lock:
                if key not in self._prices:
                    try:
                        types = await client.list_instance_types(provider, region)
                    except ApiError:  # an unknown provider/region: no prices, still a panel
                        types = []
                    self._prices[key] = {t.id: t.price_per_hour for t in types}
        return self._prices[key]


class SplitCache:
    """(cluster, nodepool) -> (node count, split or None = unknown, when): answers worth keeping."""

    MISS = object()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._kept: dict[tuple[str, str], tuple[int, dict[str, int] | None, float]] = {}

    def get(self, cc_id: str, np: Any) -> Any:
        """The kept split (or None: known to be unknown), or MISS: ask the backend."""
        kept = self._kept.get((cc_id, np.id))
        if kept is None or kept[0] != np.node_count or self.clock() - kept[2] > SPLIT_MAX_AGE:
            return self.MISS
        return kept[1]

    def put(self, cc_id: str, np: Any, split: dict[str, int] | None) -> None:
        self._kept[(cc_id, np.id)] = (int(np.node_count), split, self.clock())


def _capacity(np: Any) -> str:
    if np.spot:
        return "spot, on-demand fallback" if np.on_demand else "spot"
    return "on-demand"


async def _mixed_splits(client: Any, cc_id: str, np_ids: list[str]) -> dict[str, dict[str, int]]:
    """{nodepool id: {spot, on_demand}} from the last complete minute of node-count metrics."""
    out: dict[str, dict[str, int]] = {}
    for i in range(0, len(np_ids), SPLIT_CHUNK):
        chunk = np_ids[i : i + SPLIT_CHUNK]
        try:
            frame = await client.query_metrics(
                "NODEPOOL_NODE_COUNT",
                timedelta(minutes=2),
                None,
                "1m",
                filters={"COMPUTE_CLUSTER_ID": cc_id, "NODEPOOL_ID": chunk},
                aggregate="SUM",  # one sample per series and minute: ready + pending
                group_by=["NODEPOOL_ID", "capacity_type"],
            )
        except ComputeError:
            continue  # no split for these pools: shown as unknown
        if frame.empty:
            continue
        last = frame.sort_values("timestamp").groupby(["nodepool_id", "capacity_type"]).last()
        for (np_id, cap), row in last.iterrows():
            out.setdefault(np_id, {SPOT: 0, ON_DEMAND: 0})[cap] = int(round(row["value"]))
    return out


def _nodepool_row(
    np: Any, prices: dict[str, float | None], split: dict[str, int] | None
) -> dict[str, Any]:
    count = int(np.node_count)
    if np.spot and np.on_demand:
        nodes = split  # None: unknown
    else:
        nodes = {SPOT: count if np.spot else 0, ON_DEMAND: 0 if np.spot else count}
    price = prices.get(np.instance_type_id)
    return {
        "id": np.id,
        "cluster_id": np.compute_cluster_id,
        "description": np.description,
        "status": enum_label(np.status) or "unknown",
        "status_description": np.status_description,
        "instance_type": np.instance_type_id,
        "capacity": _capacity(np),
        "min_instances": int(np.min_instances),
        "max_instances": int(np.max_instances),
        "node_count": count,
        "nodes": nodes,
        "price_per_hour": price,
        "cost_per_hour": None if price is None else round(price * count, 4),
    }


async def _splits(
    client: Any, by_cluster: dict[str, list[Any]], cache: SplitCache
) -> dict[str, dict[str, dict[str, int] | None]]:
    """{cluster: {nodepool: split}} of the mixed pools: kept ones, the rest asked for."""
    out: dict[str, dict[str, dict[str, int] | None]] = {}
    ask: dict[str, list[Any]] = {}
    for cc, nps in by_cluster.items():
        for np in nps:
            if not (np.spot and np.on_demand):
                continue
            if np.node_count == 0:  # nothing to split
                out.setdefault(cc, {})[np.id] = {SPOT: 0, ON_DEMAND: 0}
                continue
            kept = cache.get(cc, np)
            if kept is SplitCache.MISS:
                ask.setdefault(cc, []).append(np)
            else:
                out.setdefault(cc, {})[np.id] = kept
    found = await asyncio.gather(
        *(_mixed_splits(client, cc, [np.id for np in nps]) for cc, nps in ask.items())
    )
    for (cc, nps), answer in zip(ask.items(), found, strict=True):
        for np in nps:
            split = answer.get(np.id)
            # the last complete minute's split, when it adds up to the count now; else unknown
            if split is not None and split[SPOT] + split[ON_DEMAND] != np.node_count:
                split = None
            cache.put(cc, np, split)
            out.setdefault(cc, {})[np.id] = split
    return out


async def overview(client: Any, book: PriceBook, cache: SplitCache | None = None) -> dict[str, Any]:
    """{clusters: [{id, provider, region, cost_per_hour, nodepools: [...]}], totals}."""
    clusters, nodepools = await asyncio.gather(client.list_clusters(), client.list_nodepools())
    by_cluster: dict[str, list[Any]] = {c.id: [] for c in clusters}
    for np in nodepools:
        by_cluster.setdefault(np.compute_cluster_id, []).append(np)
    where = {c.id: (c.cloud_provider.id, c.region) for c in clusters}
    places = sorted(set(where.values()))
    price_lists = await asyncio.gather(*(book.prices(client, p, r) for p, r in places))
    prices = dict(zip(places, price_lists, strict=True))
    splits = await _splits(client, by_cluster, cache if cache is not None else SplitCache())

    out = []
    total_nodes, total_cost = 0, 0.0
    for c in clusters:
        price_list = prices[where[c.id]]
        rows = [
            _nodepool_row(np, price_list, splits.get(c.id, {}).get(np.id))
            for np in sorted(by_cluster[c.id], key=lambda n: n.id)
        ]
        cost = sum(r["cost_per_hour"] or 0.0 for r in rows)
        nodes = sum(r["node_count"] for r in rows)
        total_nodes += nodes
        total_cost += cost
        out.append({
            "id": c.id,
            "description": c.description,
            "provider": c.cloud_provider.id,
            "provider_label": provider_label(c.cloud_provider.id),
            "region": c.region,
            "node_count": nodes,
            "cost_per_hour": round(cost, 4),
            "nodepools": rows,
        })  # fmt: skip
    out.sort(key=lambda c: c["id"])
    return {
        "clusters": out,
        "totals": {
            "clusters": len(out),
            "nodepools": len(nodepools),
            "node_count": total_nodes,
            "cost_per_hour": round(total_cost, 4),
        },
    }
