"""recommend(): which instance type, node range, capacity and scale-down delay meet a p95
latency target at the lowest monthly cost, for a given traffic, by simulating every candidate."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from compute_widgets.api.models import parse_duration
from compute_widgets.sim import DeploymentSpec, PoolSpec, Workload, dynamics_key

from .candidates import (
    CAPACITIES,
    DEFAULT_DELAYS,
    Candidate,
    Need,
    default_max_nodes,
    fixed_deployments,
    grid,
    need_of,
    pool_for,
)
from .errors import RightsizeError, TrafficError
from .pareto import pareto_mask
from .result import Choice, Recommendation, settings_text
from .search import RECORD_EVERY, SCORES, WARMUP_S, Job, run_jobs, scores, split
from .traffic import TrafficProfile, nodepool_ids, traffic_from

SIM_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: records' timestamps only, not values
TASKS_PER_WORKER = 4  # executor: chunks per worker, so a slow chunk does not hold the others


def _target(value: Any) -> float:
    try:
        t = parse_duration(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RightsizeError(f"target_p95={value!r}: give a latency like '2s' or 2.0 (seconds)") from None
    if not (t > 0 and math.isfinite(t)):
        raise RightsizeError(f"target_p95={value!r}: give a latency above 0 seconds")
    return t


def _ints(name: str, values: Any) -> tuple[int, ...]:
    vals = (values,) if isinstance(values, int | np.integer) else tuple(values)
    if not vals or any(isinstance(v, bool) or int(v) != v or v < 0 for v in vals):
        raise RightsizeError(f"{name}={values!r}: give whole node counts of 0 or more, e.g. (0, 1, 2)")
    return tuple(sorted({int(v) for v in vals}))


def _spec(d: Any) -> DeploymentSpec:
    if isinstance(d, DeploymentSpec):
        return d
    wire = d.to_wire() if hasattr(d, "to_wire") else dict(d)
    return DeploymentSpec.from_wire(wire)


def recommend(
    nodepool: Any = None,
    *,
    traffic: Any = None,
    target_p95: str | float = "2s",
    client: Any = None,
    provider: str | None = None,
    region: str | None = None,
    deployments: list[Any] | None = None,
    instance_types: list[Any] | None = None,
    min_nodes: Any = (0, 1, 2),
    max_nodes: Any = None,
    capacity: tuple[str, ...] = CAPACITIES,
    scale_down_delays: Any = None,
    seeds: tuple[int, ...] = (0, 1, 2),
    holdout_seeds: tuple[int, ...] = (100, 101, 102),
    executor: Any = None,
    gpu: bool | None = None,
    range: str | float = "7d",  # noqa: A002 - the CLI's word (--range 7d)
) -> Recommendation:
    """Simulate every candidate nodepool over `traffic` and recommend the cheapest one whose
    p95 latency meets `target_p95`. Latency here is what the nodepool decides: the time a
    request waits before it is served (queueing, and the wait for a node on a cold start); the
    model's own service time is not counted, as no nodepool setting changes it.

    nodepool: the current one (api Nodepool, or "cluster/nodepool" with `client`): its cloud,
      region, instance type (what fits), deployments and, with traffic=None, its recorded
      requests of the last `range` are used, and its own settings are scored (`.current`).
    traffic: anything `traffic_from` takes (pattern name, Series/DataFrame, CSV, nodepool).
    Candidates: the instance types of `provider`/`region` (the client's catalog, or
      `instance_types`: InstanceType objects) that fit the deployments (GPU, GPU memory) x
      `min_nodes` x `max_nodes` (default: what the peak needs, 1.5x and 2x that) x `capacity`
      ("spot" = spot with on-demand fallback, "on_demand") x `scale_down_delays` (the
      deployments' scale_down_delay_seconds; default 60, 300, 900 s). `gpu`: force GPU or CPU
      types when neither the nodepool nor the deployments say.
    Each candidate runs on every one of `seeds` (common random numbers across candidates); the
    best is re-run on `holdout_seeds`. `executor`: any concurrent.futures.Executor (e.g. a Dask
    cluster's `client.get_executor()`), one task per chunk of candidates; None runs here.
    """
    target_s = _target(target_p95)
    seeds = tuple(int(s) for s in seeds)
    holdout_seeds = tuple(int(s) for s in holdout_seeds)
    if not seeds:
        raise RightsizeError("seeds=(): give at least one seed, e.g. (0, 1, 2)")
    bad_cap = [c for c in capacity if c not in CAPACITIES]
    if bad_cap or not capacity:
        raise RightsizeError(f"capacity={capacity!r}: use 'spot' (with on-demand fallback) and/or 'on_demand'")
    mins = _ints("min_nodes", min_nodes)

    # the current nodepool, its cluster and deployments --------------------------------------
    current_np = cluster = None
    cc_id = np_id = ""
    if nodepool is not None:
        cc_id, np_id = nodepool_ids(nodepool)
        if isinstance(nodepool, str):
            if client is None:
                raise RightsizeError(f"nodepool={nodepool!r}: pass client= to read it (cw.connect())")
            current_np = client.get_nodepool(cc_id, np_id)
        else:
            current_np = nodepool
        if client is not None:
            cluster = client.get_cluster(cc_id)
    if deployments is None and current_np is not None and client is not None:
        deployments = list(client.list_deployments(nodepool_id=np_id, compute_cluster_id=cc_id))
    dep_models = list(deployments or [])
    specs = [_spec(d) for d in dep_models]
    dep_ids = tuple(getattr(d, "id", "") or getattr(d, "name", "") for d in dep_models)
    current_delays = {s.name: (s.scale_down_delay_s, s.scale_to_zero_delay_s) for s in specs}

    # traffic -------------------------------------------------------------------------------
    if traffic is None:
        if current_np is None:
            raise TrafficError("traffic=None needs a nodepool with recorded history: give traffic= a pattern, Series or CSV")
        traffic = f"{cc_id}/{np_id}"
    profile = traffic if isinstance(traffic, TrafficProfile) else traffic_from(traffic, client=client, range=range)
    if profile.duration_s < RECORD_EVERY * profile.step:
        raise TrafficError(f"traffic from {profile.source} lasts {profile.duration_s:g} s: give at least "
                           f"{RECORD_EVERY * profile.step:g} s (one scored minute), better a day or a week")  # fmt: skip

    # the catalog and what fits ---------------------------------------------------------------
    prov = provider or (cluster.cloud_provider.id if cluster is not None else None)
    reg = region or (cluster.region if cluster is not None else None)
    catalog = _catalog(client, instance_types, prov, reg)
    by_id = {it.id: it for it in catalog}
    cur_type = None
    if current_np is not None and current_np.instance_types:
        cur_type = by_id.get(current_np.instance_type_id) or current_np.instance_types[0]
    need = need_of(cur_type, specs, gpu)
    deps = fixed_deployments(specs, need)
    fits, pruned = [], []
    for it in catalog:
        why = need.fits(it)
        if not why and _replicas_per_node(it, deps, cluster) < 1:
            why = "a replica does not fit on one node (CPU or memory)"
        (pruned.append((it.id, why)) if why else fits.append(it))
    if not fits:
        raise RightsizeError(
            f"no instance type of {prov or 'any provider'}/{reg or 'any region'} fits the deployments "
            f"({_need_text(need)}): widen provider/region or give instance_types="
        )

    # the grid -------------------------------------------------------------------------------
    delays = tuple(float(x) for x in (scale_down_delays or DEFAULT_DELAYS))
    if max_nodes is None:
        def ceilings(it: Any) -> tuple[int, ...]:
            return default_max_nodes(profile.peak_rps, _node_rps(it, deps, cluster), max(mins))
    else:
        fixed = _ints("max_nodes", max_nodes)

        def ceilings(it: Any) -> tuple[int, ...]:
            return fixed
    cands = grid(fits, mins, ceilings, tuple(capacity), delays)
    if not cands:
        raise RightsizeError("no candidate left: every min_nodes is above every max_nodes, or the capacity types are not offered")
    workload, warm = warmed_trace(profile, 1.0 / len(deps))

    bases: dict[str, PoolSpec] = {}  # one wire translation per instance type, not per candidate
    with_delay = {x: tuple(_with_delay(d, x) for d in deps) for x in delays}

    def setting(c: Candidate) -> tuple[PoolSpec, tuple[DeploymentSpec, ...]]:
        if c.instance_type not in bases:
            bases[c.instance_type] = pool_for(by_id.get(c.instance_type) or cur_type, c, cluster)
        pool = bases[c.instance_type].with_(min_nodes=c.min_nodes, max_nodes=c.max_nodes, spot=c.spot)
        return pool, with_delay.get(c.scale_down_delay_s) or tuple(_with_delay(d, c.scale_down_delay_s) for d in deps)

    def job(settings: list[tuple[PoolSpec, tuple[DeploymentSpec, ...]]], job_seeds: tuple[int, ...]) -> Job:
        return Job(
            pools=tuple(p for p, _ in settings),
            deployments=tuple(d for _, d in settings),
            services=tuple(tuple(x.resolved(p).service_s for x in d) for p, d in settings),
            workload=workload,
            seeds=job_seeds,
            duration=profile.duration_s + warm,
            step=profile.step,
            start=SIM_START - timedelta(seconds=warm),
            target_s=target_s,
            warmup_s=warm,
        )

    simulated: list[int] = []  # pool-runs per search (for the assumptions)

    def score(cs: list[Candidate], job_seeds: tuple[int, ...], executor: Any = None) -> np.ndarray:
        """SCORES of each candidate. Candidates that run alike (sim.dynamics_key: instance types
        packing as many replicas per node, differing in price and size only) run once."""
        settings = [setting(c) for c in cs]
        keys = [dynamics_key(p, list(d), profile.step, workload) for p, d in settings]
        first: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        unique = [settings[i] for i in first.values()]
        simulated.append(len(unique) * len(job_seeds))
        chunks = [unique] if executor is None else split(unique, _chunk_size(len(unique), executor))
        stats = run_jobs([job(c, job_seeds) for c in chunks], executor)
        row_of = {k: j for j, k in enumerate(first)}
        return np.array([scores(stats[row_of[k]], p.price_spot, p.price_od) for k, (p, _) in zip(keys, settings, strict=True)])

    frame = _frame(cands, score(cands, seeds, executor), by_id, target_s)
    frame["on_front"] = pareto_mask(frame["monthly_cost"].to_numpy(), frame["p95_s"].to_numpy())
    front = frame[frame["on_front"]].sort_values(["monthly_cost", "p95_s"], kind="stable")

    # the current configuration --------------------------------------------------------------
    current = None
    if current_np is not None and cur_type is not None:
        delay0 = specs[0].scale_down_delay_s if specs else DEFAULT_DELAYS[1]
        c0 = Candidate(cur_type.id, int(current_np.min_instances), int(current_np.max_instances),
                       bool(current_np.spot), float(delay0))  # fmt: skip
        if cur_type.id not in by_id:
            by_id[cur_type.id] = cur_type
        row = _frame([c0], score([c0], seeds), by_id, target_s).iloc[0]
        current = Choice(row, cc_id, np_id, current_np, deployment_ids=dep_ids)

    # the choice, checked on held-out seeds ------------------------------------------------------
    best = None
    # cheapest first; among equals the one with the shorter tail (it has more headroom)
    meeting = frame[frame["meets_target"]].sort_values(["monthly_cost", "p95_s", "p99_s", "minutes_over_target"],
                                                       kind="stable")  # fmt: skip
    if len(meeting):
        row = meeting.iloc[0]
        c = cands[int(row.name)]
        stability: dict[str, Any] = {}
        if holdout_seeds:
            per = np.concatenate([score([c], (s,)) for s in holdout_seeds])
            p95 = [float(v) for v in per[:, SCORES.index("p95_s")]]
            stability = {
                "seeds": list(holdout_seeds),
                "p95_s": p95,
                "meets_target": [v <= target_s for v in p95],
                "p95_spread_s": max(p95) - min(p95),
                "meets_on_all": all(v <= target_s for v in p95),
                "monthly_cost": [float(v) for v in per[:, SCORES.index("monthly_cost")]],
            }
        best = Choice(row, cc_id, np_id, current_np, stability, dep_ids)
    pool0 = pool_for(fits[0], cands[0], cluster)
    binding = "" if best is not None else _binding(frame, [d.resolved(pool0) for d in deps], profile, target_s, mins)
    return Recommendation(
        candidates=frame,
        front=front,
        best=best,
        current=current,
        target_p95_s=target_s,
        binding=binding,
        assumptions={**_assumptions(pool0, deps[0].resolved(pool0), profile, seeds, holdout_seeds),
                     "runs_simulated": simulated[0]},  # fmt: skip
        traffic=profile,
        pruned=pd.DataFrame(pruned, columns=["instance_type", "why"]),
        current_delays=current_delays,
    )


# ---- helpers ---------------------------------------------------------------------------------


def _catalog(client: Any, given: list[Any] | None, provider: str | None, region: str | None) -> list[Any]:
    """InstanceType objects: given ones, or the client's listing (ids in `given` pick from it)."""
    objs = [g for g in given or [] if not isinstance(g, str)]
    ids = [g for g in given or [] if isinstance(g, str)]
    if given and not ids:
        return objs
    if client is None:
        raise RightsizeError("recommend needs client= to read the instance types (or instance_types=[InstanceType, ...])")
    listing = list(client.list_instance_types(provider or "all", region or "all"))
    if ids:
        known = {it.id: it for it in listing}
        missing = [i for i in ids if i not in known]
        if missing:
            raise RightsizeError(f"instance_types: {', '.join(missing)} not offered in {provider or 'any provider'}/{region or 'any region'}: see %compute li")
        return objs + [known[i] for i in ids]
    return listing


def warmed_trace(profile: TrafficProfile, share: float) -> tuple[Workload, float]:
    """The simulator's workload: each deployment's `share` of the rate, the profile's last
    WARMUP_S (whole records) played first; and that warm-up in seconds."""
    record = RECORD_EVERY * profile.step
    rows = int(min(WARMUP_S, profile.duration_s) // record)
    k = rows * RECORD_EVERY
    v = profile.rates.to_numpy(dtype=np.float64) * share
    v = np.concatenate([v[len(v) - k :], v]) if k else v
    trace = pd.Series(v, index=np.arange(len(v), dtype=np.float64) * profile.step)
    return Workload(trace=trace), k * profile.step


def _with_delay(d: DeploymentSpec, delay: float) -> DeploymentSpec:
    return replace(d, scale_down_delay_s=delay, scale_to_zero_delay_s=max(d.scale_to_zero_delay_s, delay))


def _replicas_per_node(it: Any, deps: list[DeploymentSpec], cluster: Any) -> float:
    pool = pool_for(it, Candidate(it.id, 0, 1, False, 300.0), cluster)
    return min(d.replicas_per_node(pool) for d in deps)


def _node_rps(it: Any, deps: list[DeploymentSpec], cluster: Any) -> float:
    """Requests/s one node serves at the target utilisation (all deployments together)."""
    pool = pool_for(it, Candidate(it.id, 0, 1, False, 300.0), cluster)
    per = [d.replicas_per_node(pool) * d.resolved(pool).concurrency / d.resolved(pool).service_s * d.target_util
           for d in deps]  # fmt: skip
    return min(per) if per else 1.0


def _chunk_size(n: int, executor: Any) -> int:
    workers = getattr(executor, "_max_workers", None) or 2
    return max(1, math.ceil(n / (TASKS_PER_WORKER * workers)))


def _frame(cands: list[Candidate], scores: np.ndarray, by_id: dict[str, Any], target_s: float) -> pd.DataFrame:
    rows = []
    for c in cands:
        it = by_id.get(c.instance_type)
        rows.append({
            "instance_type": c.instance_type,
            "accelerator": getattr(it, "accelerator", "") if it is not None else "",
            "gpus": int(getattr(it, "accelerators", 0)) if it is not None else 0,
            "gpu_memory_gib": float(getattr(it, "gpu_memory_gib", 0.0)) if it is not None else 0.0,
            "vcpu": float(getattr(it, "vcpu", 0.0)) if it is not None else 0.0,
            "memory_gib": float(getattr(it, "memory_gib", 0.0)) if it is not None else 0.0,
            "min_nodes": c.min_nodes,
            "max_nodes": c.max_nodes,
            "spot": c.spot,
            "scale_down_delay_s": c.scale_down_delay_s,
        })  # fmt: skip
    df = pd.DataFrame(rows)
    for j, name in enumerate(SCORES):
        df[name] = scores[:, j] if len(scores) else []
    df["meets_target"] = df["p95_s"] <= target_s
    return df


def _need_text(need: Need) -> str:
    if not need.gpu:
        return "CPU only"
    return f"a GPU with {need.gpu_memory_gib:g} GiB or more" if need.gpu_memory_gib else "a GPU"


def _binding(frame: pd.DataFrame, deps: list[DeploymentSpec], profile: TrafficProfile, target_s: float,
             mins: tuple[int, ...]) -> str:  # fmt: skip
    """Which constraint binds when no candidate meets the target, and by how much the
    closest one misses."""
    close = frame.sort_values(["p95_s", "monthly_cost"], kind="stable").iloc[0]
    miss = close["p95_s"] - target_s
    head = (f"No candidate meets p95 <= {target_s:g} s; the closest, {settings_text(close)}, has p95 "
            f"{close['p95_s']:.2f} s (misses by {miss:.2f} s) at ${close['monthly_cost']:,.0f}/month. ")  # fmt: skip
    requests = profile.mean_rps * profile.duration_s
    caps = sum(d.max_replicas for d in deps)
    cap_rps = sum(d.max_replicas * d.concurrency / d.service_s * d.target_util for d in deps if d.service_s)
    if cap_rps and profile.peak_rps > cap_rps:
        return head + (f"Binding: the deployments' max_replicas ({caps}) serve ~{cap_rps:.2g} rps, below the "
                       f"peak of {profile.peak_rps:.2g} rps: raise max_replicas.")  # fmt: skip
    if requests and close["cold_start_requests"] / requests > 0.01:
        share = close["cold_start_requests"] / requests
        return head + (f"Binding: cold starts ({share:.1%} of requests wait for a node to boot) with "
                       f"min_nodes up to {max(mins)}: try a larger min_nodes.")  # fmt: skip
    same = frame[frame["instance_type"] == close["instance_type"]]
    by_max = same.groupby("max_nodes")["p95_s"].min().sort_index()
    if len(by_max) > 1 and close["max_nodes"] == by_max.index[-1] and by_max.iloc[-1] < 0.9 * by_max.iloc[-2]:
        return head + (f"Binding: max_nodes ({int(by_max.index[-1])} is the largest tried for {close['instance_type']}, "
                       f"and each larger ceiling still helped): try larger max_nodes.")  # fmt: skip
    up = max(d.scale_up_delay_s for d in deps)
    if up >= target_s:
        return head + (f"Binding: the deployments' scale_up_delay_seconds ({up:g} s): replicas follow a rise in "
                       f"demand only after it has lasted that long, so bursts queue whatever the nodepool; lower "
                       f"it, or raise min_replicas.")  # fmt: skip
    return head + ("Binding: scale-up speed: demand rises faster than nodes boot (provisioning delay); "
                   "try a larger min_nodes for headroom.")


def _assumptions(pool: PoolSpec, dep: DeploymentSpec, profile: TrafficProfile, seeds: tuple[int, ...],
                 holdout: tuple[int, ...]) -> dict[str, Any]:  # fmt: skip
    """The figures the simulation took (autoscaling reference, AS §x)."""
    return {
        "provisioning_delay_s": pool.provisioning_delay_s,  # AS §3.1: GPU 180-600 s, CPU 60-240 s
        "spot_notice_s": pool.spot_notice_s,  # AS §1.2/§1.3: AWS 120 s, GKE 30 s
        "spot_interruption_rate_per_node_hour": pool.spot_hazard_per_hour,  # AS §4.3
        "spot_capacity_unavailable_per_launch": pool.p_spot_ice,  # AS §3.1
        "launch_failure_per_launch": pool.p_launch_fail,  # AS §3.1
        "node_scale_down_unneeded_s": pool.scale_down_unneeded_s,  # AS §1.1: CA 10 min
        "scale_down_delay_after_add_s": pool.delay_after_add_s,  # AS §1.1
        "spot_price_when_unlisted": "0.45 x on-demand",  # AS §4.1
        "service_s": dep.service_s,  # AS §3.1: GPU 4 s, CPU 0.5 s per request
        "concurrency": dep.concurrency,
        "target_utilization": dep.target_util,
        "scale_up_delay_s": dep.scale_up_delay_s,
        "traffic_history_s": dep.traffic_history_s,
        "arrivals": "Poisson around the traffic's rate",
        "hours_per_month": 730.0,
        "seeds": list(seeds),
        "holdout_seeds": list(holdout),
        "step_s": profile.step,
        "traffic": profile.source,
        "traffic_days": profile.duration_s / 86400.0,
    }
