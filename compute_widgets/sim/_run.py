"""Runs of the kernel: packing specs into arrays, a resumable PoolRunner, simulate(), compare().

Hardware utilisation is derived from the fluid model with assumed shares of each running
replica's request: CPU 10 % idle + 90 % x busy, memory 60 % + 40 % x busy, GPU busy x GPUs,
GPU memory 80 % (weights) + 20 % x busy (KV cache). "busy" = served / capacity of the step.
Latency is Little's law (queue / throughput + service time); with no capacity at all it is the
time the oldest queued request has waited (a cold start shows as a latency spike).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from . import _kernel as K
from ._specs import (
    BASE_LOAD_NODES,
    DRAIN_TAU_S,
    STEP_S,
    DeploymentSpec,
    PoolSpec,
    Workload,
    seconds,
)

HISTORY_COLUMNS = (
    "nodes_ready_spot", "nodes_ready_od", "nodes_pending_spot", "nodes_pending_od", "nodes_draining_spot",
    "nodes", "desired", "min_nodes", "max_nodes", "cpu_util", "mem_util", "gpu_util", "gpu_mem_util",
    "replicas", "queue", "latency_s", "requests", "served",
    "cost_rate_spot", "cost_rate_od", "cost_rate_all_od", "cost_cum",
)  # fmt: skip
# the one event schema, as api's EVENT_COLUMNS (sim imports no api: tests/test_layers.py ties them)
EVENT_COLUMNS = ("timestamp", "kind", "count", "capacity_type", "reason", "message")
# event kinds by their code in the kernel's event rows [step, kind, count, capacity, reason]
EVENT_KINDS: tuple[str, ...] = K.KINDS
# The kernel's record layout by name (PoolRunner.advance returns rows of these): the pool's
# columns, then DEPLOYMENT_COLUMNS once per deployment slot. Users index by name, never by
# the kernel's O_/Q_ constants.
# While warm_up() compiles the kernel in one thread (10-20 s, once per install), small runs of
# the other threads use the plain-Python twin instead of waiting: it is bit-for-bit the same
# step function (tests/test_sim.py) and takes ~0.6 s for a pool-day. Bigger runs wait.
TWIN_BUDGET = 30_000  # steps x deployments a run may take on the twin (~2 s)
_compiling_in: int | None = None  # the thread id of a warm_up() still compiling


def _use_twin(run: Any, n_steps: int, n_deployments: int) -> bool:
    owner = _compiling_in
    return (
        owner is not None
        and owner != threading.get_ident()
        and not run.signatures
        and n_steps * max(n_deployments, 1) <= TWIN_BUDGET
    )


POOL_RECORD_COLUMNS = (
    "nodes_ready_spot", "nodes_ready_od", "nodes_pending_spot", "nodes_pending_od", "nodes_draining_spot",
    "desired", "min_nodes", "max_nodes", "cpu_util", "mem_util", "gpu_util", "gpu_mem_util",
    "replicas", "queue", "latency_s", "requests", "served", "node_seconds_spot", "node_seconds_od",
)  # fmt: skip
DEPLOYMENT_COLUMNS = ("requests", "served", "queue", "replicas", "target_replicas", "latency_s")
assert len(POOL_RECORD_COLUMNS) == K.NOUT_POOL and len(DEPLOYMENT_COLUMNS) == K.NOUT_DEP
assert POOL_RECORD_COLUMNS.index("node_seconds_od") == K.O_NS_OD and DEPLOYMENT_COLUMNS.index("latency_s") == K.Q_LAT


@dataclass(frozen=True)
class NodeCounts:
    """A runner's nodes now (after its last step)."""

    ready_spot: int
    ready_od: int
    pending_spot: int
    pending_od: int
    ever_ready: bool  # a node has been ready at some point

    @property
    def total(self) -> int:
        """Ready + pending nodes (what node_count on the wire says)."""
        return self.ready_spot + self.ready_od + self.pending_spot + self.pending_od


def pool_params(pool: PoolSpec, seed: int, n_deployments: int, dt: float) -> np.ndarray:
    v = np.zeros(K.NPP)
    v[K.P_MIN] = pool.min_nodes
    v[K.P_MAX] = max(pool.max_nodes, 0)
    v[K.P_MIN] = min(v[K.P_MIN], v[K.P_MAX])
    v[K.P_SPOT] = 1.0 if pool.spot else 0.0
    v[K.P_STRICT] = 1.0 if pool.spot_strict else 0.0
    v[K.P_PROV] = max(1, math.ceil(pool.provisioning_delay_s / dt))
    v[K.P_NOTICE] = math.ceil(pool.spot_notice_s / dt)
    v[K.P_HAZARD] = pool.spot_hazard_per_hour / 3600.0
    v[K.P_ICE_P] = pool.p_spot_ice
    v[K.P_ICE_TTL] = pool.ice_ttl_s
    v[K.P_FAIL_P] = pool.p_launch_fail
    v[K.P_BACKOFF0] = pool.backoff_initial_s
    v[K.P_BACKOFF_MAX] = pool.backoff_max_s
    v[K.P_UNNEEDED] = pool.scale_down_unneeded_s
    v[K.P_AFTER_ADD] = pool.delay_after_add_s
    v[K.P_BULK] = max(1, pool.bulk_down)
    v[K.P_UP_DELAY] = pool.node_scale_up_delay_s
    v[K.P_SEED] = float(int(seed) % (2**52))
    v[K.P_NDEP] = n_deployments
    v[K.P_VCPU] = pool.vcpu
    v[K.P_MEM] = pool.memory_gib
    v[K.P_GPUS] = pool.gpus
    v[K.P_GPU_MEM] = pool.gpu_memory_gib
    v[K.P_DRAIN_TAU] = DRAIN_TAU_S
    return v


def deployment_params(dep: DeploymentSpec, pool: PoolSpec, n_deployments: int, workload: Workload | None = None) -> np.ndarray:
    r = dep.resolved(pool)
    w = workload or r.workload
    v = np.zeros(K.NDP)
    v[K.D_ACTIVE] = 1.0
    v[K.D_MINR] = r.min_replicas
    v[K.D_MAXR] = r.max_replicas
    v[K.D_UPD] = r.scale_up_delay_s
    v[K.D_DOWND] = r.scale_down_delay_s
    v[K.D_ZEROD] = max(r.scale_to_zero_delay_s, r.scale_down_delay_s)
    v[K.D_HIST] = r.traffic_history_s
    rpn = r.replicas_per_node(pool)
    v[K.D_RPN] = rpn
    v[K.D_PACK] = 0.0 if r.disable_packing else 1.0
    rate_rep = r.concurrency / r.service_s
    base = w.base_rps
    if base is None:  # BASE_LOAD_NODES nodes' worth at target utilisation, shared by the deployments
        base = BASE_LOAD_NODES * max(rpn, 1.0) * rate_rep * r.target_util / max(n_deployments, 1)
    v[K.D_BASE] = base
    v[K.D_AMP] = w.diurnal_amplitude
    v[K.D_PEAK] = w.peak_hour_utc
    v[K.D_WEEKEND] = w.weekend_factor
    v[K.D_BURSTS] = w.bursts_per_day
    v[K.D_BMIN] = w.burst_min_s
    v[K.D_BMAX] = max(w.burst_max_s, w.burst_min_s)
    v[K.D_BLO] = w.burst_multiplier_lo
    v[K.D_BHI] = max(w.burst_multiplier_hi, w.burst_multiplier_lo)
    v[K.D_SERVICE] = r.service_s
    v[K.D_CONC] = r.concurrency
    v[K.D_TUTIL] = r.target_util
    v[K.D_TRACE] = 1.0 if w.trace is not None else 0.0
    v[K.D_CPU] = r.replica_cpu
    v[K.D_MEMR] = r.replica_mem_gib
    v[K.D_GPUR] = r.replica_gpus
    v[K.D_GPUMEMR] = r.replica_gpu_mem_gib
    v[K.D_NOISE] = 1.0 if w.poisson else 0.0
    return v


def trace_rates(series: Any, origin: float, step0: int, n: int, dt: float) -> np.ndarray:
    """Requests/second at each step from a user Series (held between samples, repeated)."""
    import pandas as pd

    s = series.dropna()
    if len(s) == 0:
        return np.zeros(n)
    if isinstance(s.index, pd.DatetimeIndex):
        idx = s.index.tz_localize("UTC") if s.index.tz is None else s.index.tz_convert("UTC")
        secs = np.asarray(idx.as_unit("ns").asi8, dtype=np.float64) / 1e9 - origin
    else:
        secs = np.asarray(s.index, dtype=np.float64)
    order = np.argsort(secs)
    secs = secs[order]
    vals = np.asarray(s.to_numpy(dtype=np.float64))[order]
    span = max(secs[-1] - secs[0], dt) + (secs[1] - secs[0] if len(secs) > 1 else dt)
    t = (step0 + np.arange(n)) * dt
    rel = np.mod(t - secs[0], span) + secs[0]
    pos = np.searchsorted(secs, rel, side="right") - 1
    return np.clip(vals[np.clip(pos, 0, len(vals) - 1)], 0.0, None)


def _epoch(t: datetime | float | None) -> float:
    if t is None:
        return _default_start().timestamp()
    if isinstance(t, int | float):
        return float(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _default_start() -> datetime:
    """Monday 00:00 UTC of this week: the weekly pattern starts on a Monday."""
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


class PoolRunner:
    """One nodepool's simulation that can be advanced step by step and changed in between.

    `set_pool` (a PATCH of min/max/spot) and `set_deployments` take effect from the next step;
    everything before is kept. Records are produced every `record_every` steps.
    """

    def __init__(
        self,
        pool: PoolSpec,
        deployments: list[DeploymentSpec] | None = None,
        *,
        origin: datetime | float | None = None,
        step: float = STEP_S,
        seed: int = 0,
        record_every: int = 1,
        workload: Workload | None = None,
        parallel: bool = False,
    ) -> None:
        self.dt = float(step)
        self.rec = int(record_every)
        self.origin = _epoch(origin)
        self.seed = int(seed)
        self.step = 0  # absolute steps simulated so far
        self.workload = workload
        self.pool = pool
        self.deployments: list[DeploymentSpec] = []
        worst = max(pool.provisioning_delay_s, pool.spot_notice_s, pool.backoff_max_s, 900.0)
        self.ring = np.zeros((1, 3, int(math.ceil(worst / self.dt)) + 2))
        self.ps = np.zeros((1, K.NPS))
        self.ps[0, K.S_LAST_UP] = -1e18
        self.ds = np.zeros((1, 0, K.NDS))
        self.dp = np.zeros((1, 0, K.NDP))
        self.pp = np.zeros((1, K.NPP))
        self.cost_cum = 0.0
        self._run = K.run_parallel if parallel else K.run_serial
        self.set_deployments(deployments or [])
        self.set_pool(pool)

    def set_pool(self, pool: PoolSpec) -> None:
        self.pool = pool
        self.pp[0] = pool_params(pool, self.seed, len(self.deployments), self.dt)
        if self.deployments:
            self.set_deployments(self.deployments)

    def configure(self, pool: PoolSpec, deployments: list[DeploymentSpec]) -> None:
        """`set_pool` and `set_deployments` at once (the deployments' parameters computed once)."""
        self.pool = pool
        self.pp[0] = pool_params(pool, self.seed, len(deployments), self.dt)
        self.set_deployments(deployments)

    def set_deployments(self, deployments: list[DeploymentSpec]) -> None:
        """Deployments keep their slot (and state) by position; new ones start idle."""
        n = len(deployments)
        if n > self.ds.shape[1]:
            grow = np.zeros((1, n - self.ds.shape[1], K.NDS))
            self.ds = np.concatenate([self.ds, grow], axis=1)
        self.deployments = list(deployments)
        dp = np.zeros((1, self.ds.shape[1], K.NDP))
        for i, d in enumerate(deployments):
            dp[0, i] = deployment_params(d, self.pool, n, self.workload)
        self.dp = dp
        self.pp[0, K.P_NDEP] = n

    def deactivate(self, slot: int) -> None:
        """Deployment `slot` takes no traffic and holds no replicas from the next step (until
        the next `set_deployments`/`configure`)."""
        self.dp[0, slot, K.D_ACTIVE] = 0.0

    def is_active(self, slot: int) -> bool:
        return bool(self.dp[0, slot, K.D_ACTIVE] >= 0.5)

    def node_counts(self) -> NodeCounts:
        ps = self.ps[0]
        return NodeCounts(
            *(int(round(ps[i])) for i in (K.S_RS, K.S_RO, K.S_PS, K.S_PO)), ever_ready=bool(ps[K.S_EVER_READY] > 0.5)
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the kernel state (what a cache of runners counts)."""
        return self.ring.nbytes + self.ps.nbytes + self.ds.nbytes + self.dp.nbytes + self.pp.nbytes

    @staticmethod
    def pool_records(records: np.ndarray) -> np.ndarray:
        """The pool's columns (POOL_RECORD_COLUMNS) of `advance`'s records."""
        return records[:, : K.NOUT_POOL]

    @staticmethod
    def deployment_records(records: np.ndarray, slot: int) -> np.ndarray:
        """Deployment `slot`'s columns (DEPLOYMENT_COLUMNS) of `advance`'s records."""
        b = K.NOUT_POOL + slot * K.NOUT_DEP
        return records[:, b : b + K.NOUT_DEP]

    @property
    def n_columns(self) -> int:
        return K.NOUT_POOL + self.ds.shape[1] * K.NOUT_DEP

    def advance(self, n_steps: int, reference: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Simulate n_steps (a multiple of record_every). Returns (records, events[k, 5])."""
        if n_steps % self.rec:
            raise ValueError(f"n_steps must be a multiple of record_every={self.rec}")
        rows = n_steps // self.rec
        out = np.zeros((1, rows, self.n_columns), dtype=np.float32)
        ev = np.zeros((1, max(256, n_steps // 20), K.EV_COLS))
        ev_n = np.zeros(1, dtype=np.int64)
        D = self.ds.shape[1]
        traces = [(w or d.workload).trace for d, w in zip(self.deployments, [self.workload] * D, strict=False)]
        if any(t is not None for t in traces):
            trace = np.zeros((1, max(D, 1), n_steps))
            for i, tr in enumerate(traces):
                if tr is not None:
                    trace[0, i] = trace_rates(tr, self.origin, self.step, n_steps, self.dt)
        else:
            trace = np.zeros((1, max(D, 1), 1))
        if n_steps:
            args = (self.pp, self.dp, self.ps, self.ds, self.ring, trace, self.step, n_steps, self.dt,
                    self.origin, self.rec, out, ev, ev_n)  # fmt: skip
            twin = reference or _use_twin(self._run, n_steps, D)
            (K.reference_run if twin else self._run)(*args)
        self.step += n_steps
        k = min(int(ev_n[0]), ev.shape[1])
        return out[0], ev[0, :k].copy()


@dataclass
class SimResult:
    """What simulate() returns: HISTORY and EVENTS frames (contract), per-deployment frames, KPIs."""

    history: Any
    events: Any
    deployments: dict[str, Any]
    kpis: dict[str, float]
    pool: PoolSpec
    step: float
    record_s: float
    raw: np.ndarray = field(repr=False, default=None)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>{_fmt(v)}</td></tr>" for k, v in self.kpis.items())
        return f"<b>SimResult</b> {self.pool.instance_id}, {len(self.history)} records<table>{rows}</table>"


def _fmt(v: Any) -> str:
    return f"{v:,.3f}" if isinstance(v, float) else str(v)


def history_frame(rec: np.ndarray, pool: PoolSpec, origin: float, step0: int, dt: float, rec_every: int,
                  cost_offset: float = 0.0):  # fmt: skip
    """The canonical HISTORY frame from kernel records (cost from paid node-seconds x price)."""
    import pandas as pd

    rec = rec.astype(np.float64)
    rows = rec.shape[0]
    rs = rec_every * dt
    ts = origin + (step0 + np.arange(rows) * rec_every) * dt
    idx = pd.DatetimeIndex(pd.to_datetime(np.round(ts * 1e3).astype("int64"), unit="ms", utc=True), name="timestamp")
    c = {
        "nodes_ready_spot": rec[:, K.O_RS], "nodes_ready_od": rec[:, K.O_RO],
        "nodes_pending_spot": rec[:, K.O_PS], "nodes_pending_od": rec[:, K.O_PO],
        "nodes_draining_spot": rec[:, K.O_DRAIN],
    }  # fmt: skip
    c["nodes"] = c["nodes_ready_spot"] + c["nodes_ready_od"] + c["nodes_pending_spot"] + c["nodes_pending_od"]
    c["desired"], c["min_nodes"], c["max_nodes"] = rec[:, K.O_DESIRED], rec[:, K.O_MIN], rec[:, K.O_MAX]
    c["cpu_util"], c["mem_util"] = rec[:, K.O_CPU], rec[:, K.O_MEM]
    if pool.gpus > 0:
        c["gpu_util"], c["gpu_mem_util"] = rec[:, K.O_GPU], rec[:, K.O_GPUMEM]
    c["replicas"], c["queue"], c["latency_s"] = rec[:, K.O_REPLICAS], rec[:, K.O_QUEUE], rec[:, K.O_LAT]
    c["requests"], c["served"] = rec[:, K.O_REQ], rec[:, K.O_SERVED]
    ns_s, ns_o = rec[:, K.O_NS_SPOT], rec[:, K.O_NS_OD]
    c["cost_rate_spot"] = ns_s / rs * pool.price_spot
    c["cost_rate_od"] = ns_o / rs * pool.price_od
    c["cost_rate_all_od"] = (ns_s + ns_o) / rs * pool.price_od
    c["cost_cum"] = cost_offset + np.cumsum((ns_s * pool.price_spot + ns_o * pool.price_od) / 3600.0)
    c["node_seconds_spot"], c["node_seconds_od"] = ns_s, ns_o
    return pd.DataFrame(c, index=idx)


def deployment_frames(rec: np.ndarray, names: list[str], index) -> dict[str, Any]:
    import pandas as pd

    out = {}
    for i, name in enumerate(names):
        b = K.NOUT_POOL + i * K.NOUT_DEP
        out[name] = pd.DataFrame(
            {col: rec[:, b + j].astype(np.float64) for j, col in enumerate(DEPLOYMENT_COLUMNS)}, index=index
        )
    return out


def event_message(kind: str, count: int, cap: str, reason: str) -> str:
    """The human line of an event (also LogEntry.message on the wire)."""
    nodes = f"{count} {cap.replace('_', '-') + ' ' if cap else ''}node{'s' if count != 1 else ''}"
    return {
        "scale_up": f"Scale-up: launching {nodes} ({reason})",
        "scale_down": f"Scale-down: removing {nodes} ({reason})",
        "preemption": f"Spot preemption: {nodes} received an interruption notice; replacements launched",
        "spot_fallback": f"Spot capacity unavailable: {count} node launch{'es' if count != 1 else ''} fell back to on-demand; spot skipped for the skip window",
        "launch_failure": f"Launch failed for {nodes} ({reason}); retrying after backoff",
        "cold_start": f"Cold start: traffic arrived with no nodes; launching {count} node{'s' if count != 1 else ''}",
        "spot_return": f"Spot capacity is back: launching {nodes} to replace on-demand fallback nodes",
    }.get(kind, f"{kind}: {nodes} ({reason})")


def events_records(ev: np.ndarray, origin: float, dt: float) -> list[dict]:
    """Kernel event rows -> dicts with the EVENTS columns (timestamp as epoch seconds)."""
    out = []
    for row in ev:
        kind = K.KINDS[int(row[1])]
        cap = K.CAPS[int(row[3])]
        reason = K.REASONS[int(row[4])]
        count = int(round(row[2]))
        values = (origin + row[0] * dt, kind, count, cap, reason, event_message(kind, count, cap, reason))
        out.append(dict(zip(EVENT_COLUMNS, values, strict=True)))
    return out


def events_frame(records: list[dict]):
    import pandas as pd

    df = pd.DataFrame(records, columns=list(EVENT_COLUMNS))
    df["timestamp"] = pd.to_datetime(np.round(df["timestamp"].to_numpy(np.float64) * 1e3).astype("int64"),
                                     unit="ms", utc=True)  # fmt: skip
    df["count"] = df["count"].astype("int64")
    return df


def kpis(history, events, pool: PoolSpec, record_s: float, latency_target_s: float) -> dict[str, float]:
    """Per-run figures: $/week, spot share, preemptions, idle node-hours, latency minutes, queue."""
    duration = len(history) * record_s
    ns_s = float(history["node_seconds_spot"].sum())
    ns_o = float(history["node_seconds_od"].sum())
    cost = float((ns_s * pool.price_spot + ns_o * pool.price_od) / 3600.0)
    util = (history["gpu_util"] if "gpu_util" in history else history["cpu_util"]).to_numpy() / 100.0
    paid_nodes = (history["node_seconds_spot"] + history["node_seconds_od"]).to_numpy() / record_s
    counts = events.groupby("kind")["count"].sum() if len(events) else {}

    def n(kind: str) -> int:
        return int(counts.get(kind, 0)) if len(events) else 0

    q = history["queue"].to_numpy()
    return {
        "cost_total": cost,
        "cost_per_week": cost * 604800.0 / duration if duration else 0.0,
        "cost_per_week_all_on_demand": (ns_s + ns_o) * pool.price_od / 3600.0 * 604800.0 / duration if duration else 0.0,
        "spot_share": ns_s / (ns_s + ns_o) if ns_s + ns_o else 0.0,
        "node_hours_spot": ns_s / 3600.0,
        "node_hours_od": ns_o / 3600.0,
        "idle_node_hours": float(np.sum(paid_nodes * (1.0 - util)) * record_s / 3600.0),
        "preemptions": n("preemption"),
        "spot_fallbacks": n("spot_fallback"),
        "launch_failures": n("launch_failure"),
        "cold_starts": n("cold_start"),
        "scale_ups": n("scale_up"),
        "scale_downs": n("scale_down"),
        "latency_target_s": float(latency_target_s),
        "minutes_over_latency_target": float(np.sum(history["latency_s"].to_numpy() > latency_target_s) * record_s / 60.0),
        "mean_latency_s": float(np.average(history["latency_s"], weights=history["served"] + 1e-12)),
        "p95_queue": float(np.percentile(q, 95)) if len(q) else 0.0,
        "p99_queue": float(np.percentile(q, 99)) if len(q) else 0.0,
        "requests": float(history["requests"].sum()),
        "served": float(history["served"].sum()),
        "max_nodes_seen": float(history["nodes"].max()) if len(history) else 0.0,
    }


def simulate(
    pool: PoolSpec,
    deployments: list[DeploymentSpec] | None = None,
    workload: Workload | None = None,
    duration: float = 7 * 86400.0,
    step: float = STEP_S,
    seed: int = 0,
    start: datetime | None = None,
    *,
    record_every: int = 1,
    latency_target_s: float | None = None,
    reference: bool = False,
) -> SimResult:
    """Simulate one nodepool from empty (created at `start`) for `duration` seconds.

    `workload`, when given, replaces every deployment's own workload (and with no deployments a
    default deployment carries it). `start` defaults to Monday 00:00 UTC of this week; the values
    depend only on the inputs and seed (the pattern is weekly), not on the start date.
    `latency_target_s` defaults to twice the slowest deployment's service time.
    `reference=True` runs the plain-Python twin of the kernel (slow; tests).
    """
    deps = list(deployments or [])
    if not deps and workload is not None:
        deps = [DeploymentSpec(workload=workload)]
    dt = float(step)
    n = int(round(seconds(duration) / dt))
    n -= n % record_every
    origin = _epoch(start)
    runner = PoolRunner(pool, deps, origin=origin, step=dt, seed=seed, record_every=record_every, workload=workload)
    rec, ev = runner.advance(n, reference=reference)
    hist = history_frame(rec, pool, origin, 0, dt, record_every)
    events = events_frame(events_records(ev, origin, dt))
    names = _unique([d.name for d in deps])
    dframes = deployment_frames(rec, names, hist.index)
    if latency_target_s is None:
        latency_target_s = 2.0 * max([d.resolved(pool).service_s for d in deps] or [1.0])
    k = kpis(hist, events, pool, record_every * dt, latency_target_s)
    return SimResult(hist, events, dframes, k, pool, dt, record_every * dt, raw=rec)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}-{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def compare(a: SimResult, b: SimResult, names: tuple[str, str] = ("A", "B")):
    """KPIs side by side, with the difference B - A and the ratio B / A."""
    import pandas as pd

    df = pd.DataFrame({names[0]: pd.Series(a.kpis, dtype="float64"), names[1]: pd.Series(b.kpis, dtype="float64")})
    df["difference"] = df[names[1]] - df[names[0]]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["ratio"] = df[names[1]] / df[names[0]].where(df[names[0]] != 0)
    df.index.name = "kpi"
    return df


@dataclass
class BatchResult:
    """Raw output of simulate_batch: records[P, rows, cols] (float32) and per-pool events."""

    records: np.ndarray
    events: list[np.ndarray]
    pools: list[PoolSpec]
    origin: float
    step: float
    record_every: int
    event_counts: np.ndarray | None = None  # events per pool, including any beyond max_events


def simulate_batch(
    pools: list[PoolSpec],
    deployments: list[list[DeploymentSpec]],
    duration: float = 7 * 86400.0,
    step: float = STEP_S,
    seed: int = 0,
    start: datetime | None = None,
    record_every: int = 6,
    parallel: bool = True,
    *,
    seeds: list[int] | None = None,
    workload: Workload | None = None,
    max_events: int | None = None,
) -> BatchResult:
    """Many nodepools in one call, vectorised over pools (numba prange over both cores).

    Pool i uses seed + i, or ``seeds[i]`` when given (the same seed in several pools gives them
    the same random draws: common random numbers for comparing settings).
    `workload`, as in simulate(), replaces every deployment's own; its ``trace`` is turned into
    per-step rates once and shared by every pool (each deployment gets the whole rate, as in
    simulate()), so pool i gives the same records as ``simulate(pools[i], deployments[i],
    workload, seed=seeds[i], record_every=...)``. Traces of single deployments are refused (they
    would be one copy per pool): pass the shared one as `workload`.
    `max_events`: event rows kept per pool (default max(256, steps // 20)); the kernel counts
    beyond it (``events[i]`` holds the first ones).
    `parallel=False` runs the pools one after another on this thread, without the GIL: what a
    thread pool's tasks should use (numba's workqueue layer refuses concurrent parallel calls).
    """
    P = len(pools)
    D = max([len(d) for d in deployments] + [1])
    dt = float(step)
    n = int(round(seconds(duration) / dt))
    n -= n % record_every
    origin = _epoch(start)
    if seeds is not None and len(seeds) != P:
        raise ValueError(f"seeds has {len(seeds)} values for {P} pools: give one seed per pool")
    worst = max([max(p.provisioning_delay_s, p.spot_notice_s, p.backoff_max_s) for p in pools] + [900.0])
    R = int(math.ceil(worst / dt)) + 2
    pp = np.zeros((P, K.NPP))
    dp = np.zeros((P, D, K.NDP))
    for i, (pool, deps) in enumerate(zip(pools, deployments, strict=True)):
        deps = list(deps) or ([DeploymentSpec(workload=workload)] if workload is not None else [])
        pp[i] = pool_params(pool, seed + i if seeds is None else seeds[i], len(deps), dt)
        for j, d in enumerate(deps):
            if workload is None and d.workload.trace is not None:
                raise ValueError("simulate_batch takes a trace shared by every pool only: pass it as workload=Workload(trace=...)")
            dp[i, j] = deployment_params(d, pool, len(deps), workload)
    if workload is not None and workload.trace is not None:
        rates = trace_rates(workload.trace, origin, 0, n, dt)
        if workload.poisson:
            # the arrivals depend on the seed and the trace only: drawn once per seed (the
            # kernel's own draws) and shared by the pools with that seed
            rows = {s: r for r, s in enumerate(dict.fromkeys(pp[:, K.P_SEED]))}
            trace = np.zeros((len(rows), D, n))
            for s, r in rows.items():
                for d in range(D):
                    K.draw_arrivals(rates, s, 0, dt, d, trace[r, d])
            pp[:, K.P_TRACE_ROW] = [rows[s] for s in pp[:, K.P_SEED]]
            dp[:, :, K.D_NOISE] = 2.0
        else:
            trace = np.repeat(rates[None, None, :], D, axis=1)
    else:
        trace = np.zeros((1, D, 1))
    ps = np.zeros((P, K.NPS))
    ps[:, K.S_LAST_UP] = -1e18
    ds = np.zeros((P, D, K.NDS))
    ring = np.zeros((P, 3, R))
    out = np.zeros((P, n // record_every, K.NOUT_POOL + D * K.NOUT_DEP), dtype=np.float32)
    ev = np.zeros((P, max(1, max_events) if max_events is not None else max(256, n // 20), K.EV_COLS))
    ev_n = np.zeros(P, dtype=np.int64)
    run = K.run_parallel if parallel else K.run_serial
    run(pp, dp, ps, ds, ring, trace, 0, n, dt, origin, record_every, out, ev, ev_n)
    events = [ev[i, : min(int(ev_n[i]), ev.shape[1])].copy() for i in range(P)]
    return BatchResult(out, events, list(pools), origin, dt, record_every, ev_n.copy())


# parameters that only feed the utilisation records (never a decision of the kernel)
_HARDWARE_P = (K.P_VCPU, K.P_MEM, K.P_GPUS, K.P_GPU_MEM)
_HARDWARE_D = (K.D_CPU, K.D_MEMR, K.D_GPUR, K.D_GPUMEMR)


def dynamics_key(pool: PoolSpec, deployments: list[DeploymentSpec], step: float = STEP_S,
                 workload: Workload | None = None) -> bytes:  # fmt: skip
    """Two runs (same seed, duration, start, workload) whose keys are equal give the same node
    counts, queues, latencies, requests, events and paid node-seconds: only the utilisation
    columns and the price differ. What the kernel decides on is the pool's parameters and each
    deployment's, replicas per node included; the hardware sizes themselves only feed the
    utilisation records, and prices are applied after the run. So instance types that pack the
    same replicas per node, on the same cloud, can be simulated once (the right-sizing search)."""
    dt = float(step)
    deps = list(deployments) or ([DeploymentSpec(workload=workload)] if workload is not None else [])
    pp = pool_params(pool, 0, len(deps), dt)
    pp[list(_HARDWARE_P)] = 0.0
    parts = [pp.tobytes()]
    for d in deps:
        v = deployment_params(d, pool, len(deps), workload)
        v[list(_HARDWARE_D)] = 0.0
        parts.append(v.tobytes())
    return b"".join(parts)


def warm_up() -> None:
    """Compile the kernel (or load it from numba's disk cache) with one tiny run, using the
    argument types simulate() and the control plane use, so later runs start at once."""
    global _compiling_in
    pool = PoolSpec(instance_id="warm-up", gpus=1, gpu_memory_gib=24.0, spot=True, max_nodes=2)
    _compiling_in = threading.get_ident()
    try:
        PoolRunner(pool, [DeploymentSpec()], origin=0.0, step=10.0, record_every=6).advance(6)
    finally:
        _compiling_in = None


def is_warm() -> bool:
    """True when this process has the kernel compiled or loaded (a run would start at once)."""
    return bool(K.run_serial.signatures)
