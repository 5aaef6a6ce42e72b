"""provisioning_hint: one line for the browser's nodepool page, from a small, cached search."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .errors import RightsizeError
from .recommend import recommend

HINT_RANGE = "1d"  # the recorded day the hint reads (a small search: seconds, not minutes)
HINT_SEEDS = (0,)
HINT_TARGET_S = 2.0
SAVING_SHARE = 0.15  # only say "over-provisioned" when the saving is at least 15 %
CACHE_SIZE = 64
_cache: OrderedDict[tuple, str | None] = OrderedDict()
_lock = threading.Lock()


def provisioning_hint(client: Any, cluster_id: str, nodepool_id: str, *, target_p95: float = HINT_TARGET_S) -> str | None:
    """One line when the nodepool's recorded last day says it is over-provisioned (the same
    p95 target met for less: the saving a month) or under-provisioned (its p95 over the
    target: the latency a candidate would buy, and at what cost); None when it is about right
    or there is nothing to go on. Cached by (pool, settings, the server's clock to the hour),
    so the page can ask on every visit."""
    try:
        pool = client.get_nodepool(cluster_id, nodepool_id)
        now = client.server_time() if hasattr(client, "server_time") else None
    except Exception:  # noqa: BLE001 - a hint is optional: no line rather than an error on the page
        return None
    hour = now.replace(minute=0, second=0, microsecond=0).isoformat() if now is not None else ""
    key = (cluster_id, nodepool_id, pool.instance_type_id, pool.min_instances, pool.max_instances,
           pool.spot, hour, float(target_p95))  # fmt: skip
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    line = _hint(client, pool, f"{cluster_id}/{nodepool_id}", float(target_p95))
    with _lock:
        _cache[key] = line
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return line


def _hint(client: Any, pool: Any, where: str, target_s: float) -> str | None:
    cur_type = pool.instance_type_id
    try:
        rec = recommend(where, client=client, target_p95=target_s, range=HINT_RANGE, seeds=HINT_SEEDS,
                        holdout_seeds=(), instance_types=[cur_type] if cur_type else None,
                        min_nodes=sorted({0, 1, int(pool.min_instances)}), scale_down_delays=(300.0,))  # fmt: skip
    except RightsizeError:  # TrafficError too
        return None
    cur = rec.current
    if cur is None:
        return None
    c = cur.row
    if c["p95_s"] > target_s:
        if rec.best is None:
            return f"Under-provisioned: p95 {c['p95_s']:.1f} s over the last day, above {target_s:g} s; {rec.binding.split('. ')[-1]}"
        b = rec.best.row
        extra = b["monthly_cost"] - c["monthly_cost"]
        cost = f"{'+' if extra >= 0 else '-'}${abs(extra):,.0f}/month"
        return (f"Under-provisioned: p95 {c['p95_s']:.1f} s over the last day (target {target_s:g} s); "
                f"{rec.best.settings} would bring it to {b['p95_s']:.1f} s ({cost}).")  # fmt: skip
    if rec.best is not None:
        b = rec.best.row
        saving = c["monthly_cost"] - b["monthly_cost"]
        if c["monthly_cost"] > 0 and saving >= SAVING_SHARE * c["monthly_cost"]:
            return (f"Over-provisioned: {rec.best.settings} meets p95 {target_s:g} s for "
                    f"${saving:,.0f}/month less ({saving / c['monthly_cost']:.0%}).")  # fmt: skip
    return None
