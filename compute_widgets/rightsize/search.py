"""Simulate candidates in batches (sim.simulate_batch, one shared trace) and score them.

A job is a chunk of candidates with every seed: one kernel call of len(chunk) x len(seeds)
pool-runs. Jobs are plain data, so any concurrent.futures.Executor (threads, processes, a Dask
cluster's) can run `run_job`; results come back in candidate order whatever ran them.

Scores of a candidate over its seeds. The records are one-minute means of the kernel's 10 s
steps; the first WARMUP_S of each run are a warm-up (the pool starts empty, as no real pool
does) and are not scored: the trace's last hour is played before it, so the scored part sees
exactly the traffic given.
- p50/p95/p99_s: percentiles of the wait per request, queueing + cold start (the deployment's
  latency minus its service time, which no nodepool changes), each record weighted by its
  requests, every deployment and every seed pooled;
- minutes_over_target: minutes in which some deployment's requests waited longer than the
  target, mean per seed;
- cold_start_requests: requests of a deployment arriving in a minute that ended with none of
  its replicas running (no ready node: they waited on a cold start), mean per seed;
- spot_interruptions: spot nodes preempted (interruption notices absorbed), mean per seed;
- monthly_cost: paid node-seconds x price (spot, on-demand), scaled to 730 hours, mean per seed.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from compute_widgets.sim import (
    DEPLOYMENT_COLUMNS,
    EVENT_KINDS,
    POOL_RECORD_COLUMNS,
    DeploymentSpec,
    PoolRunner,
    PoolSpec,
    Workload,
    simulate_batch,
)

SCORES = ("monthly_cost", "p50_s", "p95_s", "p99_s", "minutes_over_target",
          "cold_start_requests", "spot_interruptions")  # fmt: skip
# what a run gives before prices: the scores but cost, and paid node-seconds per run
STATS = ("p50_s", "p95_s", "p99_s", "minutes_over_target", "cold_start_requests", "spot_interruptions",
         "node_seconds_spot", "node_seconds_od", "scored_s")  # fmt: skip
HOURS_PER_MONTH = 730.0  # 8,760 h / 12, as cloud price pages count a month
RECORD_EVERY = 6  # one record per minute at 10 s steps
WARMUP_S = 3600.0  # played before the scored part: the pool is not empty when it starts
RUNS_PER_CALL = 64  # pool-runs per kernel call at most (a week of records: ~1 MB a run)
CALL_BYTES = 64 * 2**20  # records of one kernel call at most: months of traffic take fewer runs
_D_LAT, _D_REQ, _D_REP = (DEPLOYMENT_COLUMNS.index(c) for c in ("latency_s", "requests", "replicas"))
_NS_SPOT, _NS_OD = (POOL_RECORD_COLUMNS.index(c) for c in ("node_seconds_spot", "node_seconds_od"))
_PREEMPTION = EVENT_KINDS.index("preemption")


@dataclass(frozen=True)
class Job:
    """A chunk of candidates to simulate with every seed (picklable: plain specs and arrays)."""

    pools: tuple[PoolSpec, ...]
    deployments: tuple[tuple[DeploymentSpec, ...], ...]
    services: tuple[tuple[float, ...], ...]  # service time of each deployment on each pool
    workload: Workload  # the shared trace, warm-up included
    seeds: tuple[int, ...]
    duration: float  # warm-up included
    step: float
    start: datetime  # of the warm-up
    target_s: float
    warmup_s: float = 0.0
    record_every: int = RECORD_EVERY


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """The smallest value v with (weight of values <= v) >= q x total weight, for each q.
    0.0 when there is no weight at all."""
    total = float(weights.sum())
    if total <= 0:
        return [0.0 for _ in qs]
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order], dtype=np.float64)
    out = []
    for q in qs:
        k = int(np.searchsorted(cum, q * total, side="left"))
        out.append(float(values[order[min(k, len(order) - 1)]]))
    return out


def run_stats(records: list[np.ndarray], preemptions: list[float], services: tuple[float, ...], *,
              record_s: float, target_s: float) -> dict[str, float]:  # fmt: skip
    """STATS of one setting from its runs' scored records (one array per seed, warm-up rows
    dropped) and spot preemptions in the scored part of each run: all but the price."""
    waits, reqs, cold, over = [], [], 0.0, 0.0
    for r in records:
        busy_over = np.zeros(len(r), dtype=bool)
        for slot, service in enumerate(services):
            d = PoolRunner.deployment_records(r, slot).astype(np.float64)
            wait = np.maximum(d[:, _D_LAT] - service, 0.0)
            req = d[:, _D_REQ]
            waits.append(wait)
            reqs.append(req)
            cold += float(req[d[:, _D_REP] < 0.5].sum())
            busy_over |= (wait > target_s) & (req > 0)
        over += float(busy_over.sum()) * record_s / 60.0
    p50, p95, p99 = weighted_percentiles(np.concatenate(waits), np.concatenate(reqs), (0.50, 0.95, 0.99))
    runs = len(records)
    return {
        "p50_s": p50,
        "p95_s": p95,
        "p99_s": p99,
        "minutes_over_target": over / runs,
        "cold_start_requests": cold / runs,
        "spot_interruptions": float(sum(preemptions)) / runs,
        "node_seconds_spot": sum(float(r[:, _NS_SPOT].astype(np.float64).sum()) for r in records) / runs,
        "node_seconds_od": sum(float(r[:, _NS_OD].astype(np.float64).sum()) for r in records) / runs,
        "scored_s": sum(len(r) for r in records) / runs * record_s,
    }


def scores(stats: np.ndarray, price_spot: float, price_od: float) -> list[float]:
    """SCORES of a candidate from its setting's STATS row and its instance type's prices."""
    st = dict(zip(STATS, stats, strict=True))
    cost = (st["node_seconds_spot"] * price_spot + st["node_seconds_od"] * price_od) / 3600.0
    monthly = cost * HOURS_PER_MONTH * 3600.0 / st["scored_s"] if st["scored_s"] else 0.0
    return [monthly, *(float(st[k]) for k in SCORES[1:])]


# numba's fallback threading layer (workqueue) aborts on concurrent parallel calls: the browser's
# hint and a Planner search may run at once in one kernel, so parallel calls take turns
_PARALLEL = threading.Lock()


def run_job(job: Job, parallel: bool = False) -> np.ndarray:
    """STATS of the job's settings: an array [len(pools), len(STATS)].

    `parallel=False` (what executor tasks use): one thread, no GIL held, so a thread pool's
    tasks run side by side; True spreads one call over the cores (numba prange).
    """
    S = len(job.seeds)
    out = np.zeros((len(job.pools), len(STATS)))
    rows = int(job.duration / job.step) // job.record_every
    cols = len(POOL_RECORD_COLUMNS) + len(DEPLOYMENT_COLUMNS) * max(len(d) for d in job.deployments)
    runs_fit = max(1, CALL_BYTES // max(1, rows * cols * 4))
    per_call = max(1, min(RUNS_PER_CALL, runs_fit) // S)
    for lo in range(0, len(job.pools), per_call):
        pools = job.pools[lo : lo + per_call]
        deps = job.deployments[lo : lo + per_call]
        with _PARALLEL if parallel else contextlib.nullcontext():
            batch = simulate_batch(
                [p for p in pools for _ in job.seeds],
                [list(d) for d in deps for _ in job.seeds],
                duration=job.duration,
                step=job.step,
                start=job.start,
                record_every=job.record_every,
                parallel=parallel,
                seeds=[s for _ in pools for s in job.seeds],
                workload=job.workload,
            )
        skip = int(round(job.warmup_s / (job.record_every * job.step)))
        first_step = skip * job.record_every
        for i in range(len(pools)):
            runs = range(i * S, (i + 1) * S)
            pre = []
            for r in runs:
                ev = batch.events[r]
                pre.append(float(ev[(ev[:, 1] == _PREEMPTION) & (ev[:, 0] >= first_step), 2].sum()))
            s = run_stats([batch.records[r][skip:] for r in runs], pre, job.services[lo + i],
                          record_s=job.record_every * job.step, target_s=job.target_s)  # fmt: skip
            out[lo + i] = [s[k] for k in STATS]
    return out


def run_jobs(jobs: list[Job], executor: Any = None) -> np.ndarray:
    """Every job's STATS stacked in order: in this process (each call on all cores), or on
    `executor` (one task per job, each on one core)."""
    if not jobs:
        return np.zeros((0, len(STATS)))
    if executor is None:
        parts = [run_job(j, parallel=True) for j in jobs]
    else:
        parts = list(executor.map(run_job, jobs))
    return np.concatenate(parts, axis=0)


def split(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
