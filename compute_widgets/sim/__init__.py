"""The autoscaling simulator: numbers in, time series, events and KPIs out; no I/O.

    from compute_widgets.sim import simulate, compare, PoolSpec, DeploymentSpec, Workload
    pool = PoolSpec(instance_id="g5.xlarge", vcpu=4, memory_gib=16, gpus=1, gpu_memory_gib=22.4,
                    price_od=1.006, price_spot=0.44, min_nodes=0, max_nodes=8, spot=True)
    a = simulate(pool, [DeploymentSpec(max_replicas=8)], duration=7 * 86400)  # seconds
    b = simulate(pool.with_(spot=False), [DeploymentSpec(max_replicas=8)], duration=7 * 86400)
    compare(a, b, names=("spot", "on-demand"))

A deterministic time-stepped fluid model (autoscaling.md §3) compiled with numba and cached on
disk; `PoolRunner` continues a run step by step (the local control plane uses it).

The runner API, public so no one reads the kernel's private arrays: `PoolRunner.advance` returns
records whose columns are named by POOL_RECORD_COLUMNS and DEPLOYMENT_COLUMNS (split with
`pool_records`/`deployment_records`), `events_records` turns its event rows into dicts with the
EVENT_COLUMNS, `node_counts()`, `deactivate(slot)`, `configure(pool, deployments)`.
`EVENT_KINDS` names the kinds by their code in the kernel's event rows (column 1), for
counting events of a batch without building dicts. `simulate_batch(..., seeds=, workload=)`
runs many pools over one shared trace (the right-sizing search); `dynamics_key` says when two
pools would run alike (same decisions, only utilisation and prices differ), so they run once.
`warm_up()` compiles the kernel (or loads it from the cache), `is_warm()` says whether that
happened in this process. Spans are seconds (numbers): the one duration grammar for strings
is compute_widgets.api.models.parse_duration, which sim cannot import.

The what-if rule lives here once: `pool_spec_from(nodepool, instance_type, cluster=...)` turns an
api nodepool into a PoolSpec (duck-typed on wire names) for the planner, `%compute plan` and the
local control plane; `what_if(current, proposed, deployments)` runs both with the same traffic.
sim/ imports nothing else of compute_widgets.
"""

from __future__ import annotations

import os


def _numba_cache_dir() -> None:
    """numba caches next to the sources; when that is read-only, use the user cache dir."""
    here = os.path.dirname(os.path.abspath(__file__))
    if "NUMBA_CACHE_DIR" in os.environ or os.access(here, os.W_OK):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(base, "compute_widgets", "numba")


_numba_cache_dir()

from ._run import (  # noqa: E402
    DEPLOYMENT_COLUMNS,
    EVENT_COLUMNS,
    EVENT_KINDS,
    POOL_RECORD_COLUMNS,
    BatchResult,
    NodeCounts,
    PoolRunner,
    SimResult,
    compare,
    dynamics_key,
    event_message,
    events_records,
    is_warm,
    simulate,
    simulate_batch,
    warm_up,
)
from ._specs import DeploymentSpec, PoolSpec, Workload  # noqa: E402
from ._what_if import WhatIf, pool_spec_from, what_if  # noqa: E402

__all__ = [
    "simulate",
    "compare",
    "what_if",
    "WhatIf",
    "pool_spec_from",
    "PoolSpec",
    "DeploymentSpec",
    "Workload",
    "SimResult",
    "PoolRunner",
    "simulate_batch",
    "dynamics_key",
    "BatchResult",
    "event_message",
    "events_records",
    "NodeCounts",
    "POOL_RECORD_COLUMNS",
    "DEPLOYMENT_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "warm_up",
    "is_warm",
]
