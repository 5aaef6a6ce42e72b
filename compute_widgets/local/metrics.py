"""Metrics and runner events of the local control plane, fed by the simulator (sim/).

Each nodepool's history is simulated from its creation to ``clock.now()`` on demand, at 10 s
steps with one record per minute, incrementally: a `sim.PoolRunner` per nodepool keeps the
kernel state and only the new steps are simulated; records and events are cached in memory
(`RETENTION_S` = 35 days kept; a clock jump longer than that restarts the pool's simulation
8 days before now). Nodepool revisions (store.nodepool_revisions) apply from their effective
time on, rounded up to the next minute: a PATCH at t never changes the history before t.
Deployments join at their created_at (or now, when first seen later) and leave when deleted;
a deployment on several nodepools sends each an equal share of an explicit ``base_rps``.

PostMetricsQuery (`MetricsEngine.query`):

- Metric types: NODEPOOL_NODE_COUNT; NODEPOOL_CPU/MEMORY/GPU/GPU_MEMORY/GPU_TENSOR_UTILIZATION
  in percent 0..100 (GPU ones only for GPU pools; tensor = 0.6 x GPU busy, an assumption);
  MODEL_REQUEST_COUNT (requests per minute sample; default operator SUM -> requests per bucket)
  and MODEL_E2E_LATENCY (seconds, Little's law) per deployment.
- Labels on series: COMPUTE_CLUSTER_ID, NODEPOOL_ID; model metrics add MODEL_ID,
  MODEL_VERSION_ID, APP_ID and DEPLOYMENT_ID.
- Filters (ANDed, ``equals`` or ``in``) on COMPUTE_CLUSTER_ID, NODEPOOL_ID, MODEL_ID,
  DEPLOYMENT_ID, and for node counts on ``capacity_type`` (spot|on_demand), ``state``
  (ready|pending) and ``series``.
- NODEPOOL_NODE_COUNT, our extension, decided here: by default one series per nodepool, the
  total (ready + pending). With a filter on ``capacity_type`` or ``state``, or either among
  the aggregate's group-by labels, it splits into up to four series labelled
  capacity_type=spot|on_demand and state=ready|pending. A filter on label ``series`` selects
  HISTORY columns by name instead, each a series labelled series=<name>: ``nodes``,
  ``nodes_ready_spot``, ``nodes_ready_od``, ``nodes_pending_spot``, ``nodes_pending_od``,
  ``nodes_draining_spot``, ``desired``, ``min_nodes``, ``max_nodes``, ``replicas``, ``queue``,
  ``latency_s``, ``requests``, and cost: ``cost_rate_spot``, ``cost_rate_od``,
  ``cost_rate_all_od`` ($/h) and ``cost_cum`` ($ since creation) — or ``series=all`` for all
  of them, which is what client.nodepool_history needs to rebuild the HISTORY frame.
- ``resolution``: a Go duration, rounded up to whole minutes (minimum 1m); the effective one is
  returned. Buckets are aligned to multiples of the resolution since the epoch; a point's
  timestamp is its bucket's start; buckets without samples have no point.
- Aggregate operator over each bucket's one-minute samples: AVG (default; SUM for
  MODEL_REQUEST_COUNT), SUM, MAX, MIN, P50, P95, P99, COUNT. With group-by labels, the series
  sharing those label values are pooled: the operator runs over all their samples in the
  bucket, and the series carry only the group-by labels.
- Default window: the last hour. At most `MAX_POINTS` buckets per series.

Events (ListLogEntries runner.events): LogEntry(message=human line, log_type="runner.events",
meta={timestamp (RFC 3339), kind, count, capacity_type, reason}), chronological.
node_state: node_count = ready + pending nodes now; status PENDING until a first node was
ready (or the provisioning delay passed), then READY.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from compute_widgets.api.models import (
    AggregateOperator,
    Deployment,
    LogEntry,
    MetricPoint,
    MetricSearchQuery,
    MetricSeries,
    MetricSeriesLabel,
    MetricType,
    Nodepool,
    NodepoolStatus,
    format_duration,
    parse_duration,
)
from compute_widgets.sim import DeploymentSpec, PoolRunner, PoolSpec
from compute_widgets.sim import _kernel as K
from compute_widgets.sim._run import events_records

STEP_S = 10.0  # simulation step (autoscaling.md §3.1)
RECORD_EVERY = 6  # one record per minute
RECORD_S = STEP_S * RECORD_EVERY
RETENTION_S = 35 * 86400.0
RESTART_BACK_S = 8 * 86400.0
MAX_POINTS = 20000
LOG_TYPE = "runner.events"

# pool-level series computed from the records: name -> column (or derived below)
_COLS = {
    "nodes_ready_spot": K.O_RS, "nodes_ready_od": K.O_RO, "nodes_pending_spot": K.O_PS,
    "nodes_pending_od": K.O_PO, "nodes_draining_spot": K.O_DRAIN, "desired": K.O_DESIRED,
    "min_nodes": K.O_MIN, "max_nodes": K.O_MAX, "cpu_util": K.O_CPU, "mem_util": K.O_MEM,
    "gpu_util": K.O_GPU, "gpu_mem_util": K.O_GPUMEM, "replicas": K.O_REPLICAS, "queue": K.O_QUEUE,
    "latency_s": K.O_LAT, "requests": K.O_REQ,
}  # fmt: skip
SERIES_NAMES = (
    "nodes", "nodes_ready_spot", "nodes_ready_od", "nodes_pending_spot", "nodes_pending_od",
    "nodes_draining_spot", "desired", "min_nodes", "max_nodes", "replicas", "queue", "latency_s",
    "requests", "cost_rate_spot", "cost_rate_od", "cost_rate_all_od", "cost_cum",
)  # fmt: skip
_SPLIT = (
    ("nodes_ready_spot", "spot", "ready"), ("nodes_ready_od", "on_demand", "ready"),
    ("nodes_pending_spot", "spot", "pending"), ("nodes_pending_od", "on_demand", "pending"),
)  # fmt: skip
_UTIL = {
    MetricType.NODEPOOL_CPU_UTILIZATION: ("cpu_util", 1.0, False),
    MetricType.NODEPOOL_MEMORY_UTILIZATION: ("mem_util", 1.0, False),
    MetricType.NODEPOOL_GPU_UTILIZATION: ("gpu_util", 1.0, True),
    MetricType.NODEPOOL_GPU_MEMORY_UTILIZATION: ("gpu_mem_util", 1.0, True),
    MetricType.NODEPOOL_GPU_TENSOR_UTILIZATION: ("gpu_util", 0.6, True),  # assumption: tensor < busy
}


def _epoch(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


@dataclass
class _Dep:
    slot: int
    id: str
    labels: dict[str, str]
    spec: DeploymentSpec
    active_from: float  # epoch
    active: bool = True


@dataclass
class _PoolSim:
    """The cached simulation of one nodepool."""

    origin: float
    runner: PoolRunner | None = None
    first_step: int = 0  # absolute step of the first retained record
    pool_chunks: list[np.ndarray] = field(default_factory=list)  # rows x (NOUT_POOL + 4 cost cols)
    dep_chunks: dict[int, list[np.ndarray]] = field(default_factory=dict)
    pool_arr: np.ndarray | None = None
    dep_arr: dict[int, np.ndarray] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    cost_cum: float = 0.0
    revisions: list[tuple[float, Nodepool]] = field(default_factory=list)
    deps: dict[str, _Dep] = field(default_factory=dict)
    gpu: bool = False
    prov_s: float = 0.0
    stale_deployments: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rows(self) -> int:
        return sum(len(c) for c in self.pool_chunks)

    def arrays(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        if self.pool_arr is None or len(self.pool_arr) != self.rows:
            self.pool_arr = np.concatenate(self.pool_chunks) if self.pool_chunks else np.zeros((0, K.NOUT_POOL + 4))
            self.pool_chunks = [self.pool_arr] if len(self.pool_arr) else []
            for slot, chunks in self.dep_chunks.items():
                arr = np.concatenate(chunks) if chunks else np.zeros((0, K.NOUT_DEP))
                self.dep_arr[slot] = arr
                self.dep_chunks[slot] = [arr] if len(arr) else []
        return self.pool_arr, self.dep_arr


class MetricsEngine:
    """PostMetricsQuery, runner events and live node state from the simulator (see module doc)."""

    def __init__(self, store: Any, catalog: Any, clock: Any) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self._pools: dict[tuple[str, str, str], _PoolSim] = {}
        self._lock = threading.Lock()

    # -- cache ---------------------------------------------------------------------------------

    def invalidate(self, user_id: str, cc_id: str, np_id: str) -> None:
        """After a PATCH/DELETE of the nodepool or a change of its deployments."""
        key = (user_id, cc_id, np_id)
        with self._lock:
            sim = self._pools.get(key)
        if sim is None:
            return
        revs = [(_epoch(t), n) for t, n in self.store.nodepool_revisions(user_id, cc_id, np_id)]
        with sim.lock:
            end = self._sim_end(sim)
            known = len(sim.revisions)
            # a revision effective before what is already simulated (should not happen: the
            # clock only moves forward) -> recompute from creation
            if not revs or any(t < end - 1e-6 for t, _ in revs[known:]) or revs[:known] != sim.revisions[:known]:
                with self._lock:
                    self._pools.pop(key, None)
                return
            sim.revisions = revs
            sim.stale_deployments = True

    def _sim_end(self, sim: _PoolSim) -> float:
        return sim.origin + (sim.runner.step if sim.runner else 0) * STEP_S

    def _get(self, user_id: str, cc_id: str, np_id: str) -> _PoolSim | None:
        key = (user_id, cc_id, np_id)
        with self._lock:
            sim = self._pools.get(key)
        if sim is None:
            revs = [(_epoch(t), n) for t, n in self.store.nodepool_revisions(user_id, cc_id, np_id)]
            if not revs:
                return None
            np0 = revs[0][1]
            created = _epoch(np0.created_at) if np0.created_at else revs[0][0]
            sim = _PoolSim(origin=math.floor(created / RECORD_S) * RECORD_S, revisions=revs)
            with self._lock:
                sim = self._pools.setdefault(key, sim)
        self._advance(key, sim)
        return sim

    def _pool_spec(self, nodepool: Nodepool) -> PoolSpec:
        wire = nodepool.to_wire()
        inst_id = nodepool.instance_type_id
        extra: dict[str, Any] = {}
        try:
            spec = self.catalog.spec(inst_id)
            extra = dict(vcpu=spec.vcpu, memory_gib=spec.memory_gib, gpus=spec.gpus,
                         gpu_memory_gib=spec.gpu_memory_gib, price_od=spec.price_od,
                         price_spot=spec.price_spot, gpu=spec.is_gpu, cloud=spec.provider or "aws")  # fmt: skip
        except (KeyError, AttributeError):
            pass
        inst = (wire.get("instance_types") or [{}])[0]
        caps = {int(c) for c in (nodepool.node_capacity_type.capacity_types if nodepool.node_capacity_type else [])}
        wire["min_instances"] = nodepool.enforced_min_instances or nodepool.min_instances or 0
        wire["max_instances"] = nodepool.enforced_max_instances or nodepool.max_instances or 0
        pool = PoolSpec.from_wire(wire, inst, **extra)
        if 2 in caps and 1 not in caps:
            pool = pool.with_(spot=True)
        return pool

    def _refresh_deployments(self, user_id: str, cc_id: str, np_id: str, sim: _PoolSim, now: float) -> None:
        deps: list[Deployment] = self.store.deployments_for_nodepool(user_id, cc_id, np_id)
        seen = set()
        for d in deps:
            seen.add(d.id)
            n_pools = max(len(d.nodepools or []), len(d.deployment_nodepools or []), 1)
            spec = DeploymentSpec.from_wire(d.to_wire())
            if spec.workload.base_rps is not None and n_pools > 1:
                spec.workload.base_rps /= n_pools
            model = d.worker.model if d.worker and d.worker.model else None
            labels = {
                "COMPUTE_CLUSTER_ID": cc_id, "NODEPOOL_ID": np_id, "DEPLOYMENT_ID": d.id,
                "MODEL_ID": model.id if model else "", "APP_ID": model.app_id if model else "",
                "MODEL_VERSION_ID": model.model_version.id if model and model.model_version else "",
            }  # fmt: skip
            created = _epoch(d.created_at) if d.created_at else now
            old = sim.deps.get(d.id)
            if old is None:
                start = max(created, self._sim_end(sim))
                sim.deps[d.id] = _Dep(len(sim.deps), d.id, labels, spec, start)
            else:
                old.spec, old.labels, old.active = spec, labels, True
        for d in sim.deps.values():
            if d.id not in seen:
                d.active = False
        sim.stale_deployments = False

    def _advance(self, key: tuple[str, str, str], sim: _PoolSim) -> None:
        user_id, cc_id, np_id = key
        now = self.clock.timestamp()
        with sim.lock:
            if sim.stale_deployments:
                self._refresh_deployments(user_id, cc_id, np_id, sim, now)
            target = int((now - sim.origin) // RECORD_S) * RECORD_EVERY
            if sim.runner is None or target - sim.runner.step > RETENTION_S / STEP_S:
                start = 0 if target * STEP_S <= RETENTION_S else target - int(RESTART_BACK_S / STEP_S)
                self._restart(key, sim, start)
            runner = sim.runner
            # breakpoints: revision times and deployment joins, rounded up to a record boundary
            cuts = {target}
            for t, _ in sim.revisions[1:]:
                cuts.add(int(math.ceil((t - sim.origin) / RECORD_S)) * RECORD_EVERY)
            for d in sim.deps.values():
                cuts.add(int(math.ceil((d.active_from - sim.origin) / RECORD_S)) * RECORD_EVERY)
            for cut in sorted(c for c in cuts if runner.step < c <= target):
                self._configure(sim, sim.origin + runner.step * STEP_S)
                self._run(sim, cut - runner.step)
            self._trim(sim)

    def _restart(self, key: tuple[str, str, str], sim: _PoolSim, start_step: int) -> None:
        start_step -= start_step % RECORD_EVERY
        np0 = sim.revisions[0][1]
        pool = self._pool_spec(np0)
        sim.gpu = bool(pool.gpu)
        sim.prov_s = float(pool.provisioning_delay_s)
        sim.runner = PoolRunner(pool, [], origin=sim.origin, step=STEP_S, seed=_seed(*key), record_every=RECORD_EVERY)
        sim.runner.step = start_step
        sim.first_step = start_step
        sim.pool_chunks, sim.dep_chunks, sim.pool_arr, sim.dep_arr = [], {}, None, {}
        sim.events, sim.cost_cum = [], 0.0

    def _configure(self, sim: _PoolSim, t: float) -> None:
        """Settings in force at time t: the latest revision at or before t, the joined deployments."""
        runner = sim.runner
        nodepool = sim.revisions[0][1]
        for eff, rev in sim.revisions:
            if eff <= t + 1e-6 or int(math.ceil((eff - sim.origin) / RECORD_S)) * RECORD_EVERY <= runner.step:
                nodepool = rev
        pool = self._pool_spec(nodepool)
        runner.set_pool(pool)
        slots = sorted(sim.deps.values(), key=lambda d: d.slot)
        runner.set_deployments([d.spec for d in slots])
        for d in slots:
            joined = int(math.ceil((d.active_from - sim.origin) / RECORD_S)) * RECORD_EVERY <= runner.step
            if not (d.active and joined):
                runner.dp[0, d.slot, K.D_ACTIVE] = 0.0

    def _run(self, sim: _PoolSim, n: int) -> None:
        runner = sim.runner
        step0 = runner.step
        rec, ev = runner.advance(n)
        rec = rec.astype(np.float64)
        pool = runner.pool
        ns_s, ns_o = rec[:, K.O_NS_SPOT], rec[:, K.O_NS_OD]
        cost = (ns_s * pool.price_spot + ns_o * pool.price_od) / 3600.0
        extra = np.column_stack([ns_s / RECORD_S * pool.price_spot, ns_o / RECORD_S * pool.price_od,
                                 (ns_s + ns_o) / RECORD_S * pool.price_od, sim.cost_cum + np.cumsum(cost)])  # fmt: skip
        if len(cost):
            sim.cost_cum += float(cost.sum())
        sim.pool_chunks.append(np.hstack([rec[:, : K.NOUT_POOL], extra]))
        rows_before = (step0 - sim.first_step) // RECORD_EVERY
        for d in sim.deps.values():
            b = K.NOUT_POOL + d.slot * K.NOUT_DEP
            block = rec[:, b : b + K.NOUT_DEP].copy()
            if runner.dp[0, d.slot, K.D_ACTIVE] < 0.5:
                block[:] = np.nan
            chunks = sim.dep_chunks.setdefault(d.slot, [])
            if not chunks and rows_before:
                chunks.append(np.full((rows_before, K.NOUT_DEP), np.nan))
            chunks.append(block)
        sim.events.extend(events_records(ev, sim.origin, STEP_S))

    def _trim(self, sim: _PoolSim) -> None:
        keep = int(RETENTION_S // RECORD_S)
        if sim.rows <= keep + 1440:
            return
        pool_arr, dep_arr = sim.arrays()
        drop = len(pool_arr) - keep
        sim.pool_arr = pool_arr[drop:].copy()
        sim.pool_chunks = [sim.pool_arr]
        for slot, arr in dep_arr.items():
            sim.dep_arr[slot] = arr[drop:].copy()
            sim.dep_chunks[slot] = [sim.dep_arr[slot]]
        sim.first_step += drop * RECORD_EVERY
        t0 = sim.origin + sim.first_step * STEP_S
        sim.events = [e for e in sim.events if e["timestamp"] >= t0]

    # -- live state and events -----------------------------------------------------------------

    def node_state(self, user_id: str, cc_id: str, np_id: str) -> tuple[int, NodepoolStatus]:
        sim = self._get(user_id, cc_id, np_id)
        if sim is None or sim.runner is None:
            return 0, NodepoolStatus.NODEPOOL_STATUS_PENDING
        ps = sim.runner.ps[0]
        count = int(round(ps[K.S_RS] + ps[K.S_RO] + ps[K.S_PS] + ps[K.S_PO]))
        age = self.clock.timestamp() - sim.origin
        ready = ps[K.S_EVER_READY] > 0.5 or age >= sim.prov_s
        return count, NodepoolStatus.NODEPOOL_STATUS_READY if ready else NodepoolStatus.NODEPOOL_STATUS_PENDING

    def events_count(self, user_id: str, cc_id: str, np_id: str) -> int:
        sim = self._get(user_id, cc_id, np_id)
        return len(sim.events) if sim else 0

    def events(self, user_id: str, cc_id: str, np_id: str, page: int | None = None, per_page: int | None = None) -> list[LogEntry]:
        """One page (1-based; None = the last page) of the nodepool's events, oldest first."""
        sim = self._get(user_id, cc_id, np_id)
        if sim is None:
            return []
        per_page = per_page or 32
        with sim.lock:
            evs = list(sim.events)
        if page is None:
            page = max(1, math.ceil(len(evs) / per_page))
        chunk = evs[(page - 1) * per_page : page * per_page]
        return [
            LogEntry(message=e["message"], log_type=LOG_TYPE, meta={
                "timestamp": _rfc3339(e["timestamp"]), "kind": e["kind"], "count": e["count"],
                "capacity_type": e["capacity_type"], "reason": e["reason"]})  # fmt: skip
            for e in chunk
        ]

    # -- PostMetricsQuery ----------------------------------------------------------------------

    def query(self, user_id: str, query: MetricSearchQuery) -> tuple[list[MetricSeries], str]:
        mt = MetricType(int(query.metric_type))
        now = self.clock.timestamp()
        end = _epoch(query.end_time) if query.end_time else now
        start = _epoch(query.start_time) if query.start_time else end - 3600.0
        res = parse_duration(query.resolution) if query.resolution else 300.0
        if res <= 0 or end < start:
            raise ValueError("start_time must be before end_time and resolution positive")
        res = max(RECORD_S, math.ceil(res / RECORD_S - 1e-9) * RECORD_S)
        b0 = math.floor(start / res) * res
        nb = max(1, math.ceil((end - b0) / res))
        if nb > MAX_POINTS:
            raise ValueError(f"{nb} points requested; use a coarser resolution (at most {MAX_POINTS})")
        filters = _filters(query)
        agg = query.aggregate
        op = AggregateOperator(int(agg.operator)) if agg and int(agg.operator) else None
        if op is None:
            op = AggregateOperator.SUM if mt == MetricType.MODEL_REQUEST_COUNT else AggregateOperator.AVG
        group = [_label_name(lb) for lb in (agg.labels if agg else [])]

        raw: list[tuple[dict[str, str], np.ndarray, float]] = []  # labels, samples, time of sample 0
        for uid, nodepool in self.store.list_all_nodepools():
            if uid != user_id:
                continue
            cc_id = nodepool.compute_cluster.id if nodepool.compute_cluster else ""
            base = {"COMPUTE_CLUSTER_ID": cc_id, "NODEPOOL_ID": nodepool.id}
            if not _match(base, filters):
                continue
            sim = self._get(user_id, cc_id, nodepool.id)
            if sim is None:
                continue
            with sim.lock:
                pool_arr, dep_arr = sim.arrays()
                t0 = sim.origin + sim.first_step * STEP_S
                deps = list(sim.deps.values())
            if {"MODEL_ID", "DEPLOYMENT_ID", "APP_ID", "MODEL_VERSION_ID"} & set(filters) and not any(
                _match(d.labels, filters) for d in deps
            ):
                continue  # a model filter keeps the nodepools that serve the model
            lo = max(0, int(math.floor((start - t0) / RECORD_S)) - 1)
            hi = min(len(pool_arr), int(math.ceil((end - t0) / RECORD_S)) + 1)
            if hi <= lo:
                continue
            ts0 = t0 + lo * RECORD_S
            if mt == MetricType.NODEPOOL_NODE_COUNT:
                for labels, values in _node_series(pool_arr[lo:hi], base, filters, group):
                    raw.append((labels, values, ts0))
            elif mt in _UTIL:
                name, scale, gpu_only = _UTIL[mt]
                if gpu_only and not sim.gpu:
                    continue
                raw.append((base, pool_arr[lo:hi, _COLS[name]] * scale, ts0))
            elif mt in (MetricType.MODEL_REQUEST_COUNT, MetricType.MODEL_E2E_LATENCY):
                col = K.Q_ARR if mt == MetricType.MODEL_REQUEST_COUNT else K.Q_LAT
                for d in deps:
                    if d.slot in dep_arr and _match(d.labels, filters):
                        labels = {k: v for k, v in d.labels.items() if v}
                        raw.append((labels, dep_arr[d.slot][lo:hi, col], ts0))
        return _bucketize(raw, start, end, b0, nb, res, op, group), format_duration(res)


# -- query helpers -------------------------------------------------------------------------------


def _label_name(label: Any) -> str:
    name = getattr(label, "name", None) or str(label)
    return name.upper() if name.upper() in _ENUM_LABELS else name.lower()


_ENUM_LABELS = {"COMPUTE_CLUSTER_ID", "NODEPOOL_ID", "MODEL_ID", "MODEL_VERSION_ID", "APP_ID", "DEPLOYMENT_ID", "HTTP_STATUS"}


def _filters(query: MetricSearchQuery) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in query.filters or []:
        name = _label_name(f.label)
        values = {f.equals} if f.equals else set(f.in_ or [])
        out[name] = out[name] & values if name in out else values
    return out


def _match(labels: dict[str, str], filters: dict[str, set[str]]) -> bool:
    return all(labels[k] in v for k, v in filters.items() if k in labels)


def _node_series(arr: np.ndarray, base: dict[str, str], filters: dict[str, set[str]], group: list[str]):
    cost0 = K.NOUT_POOL
    derived = {
        "cost_rate_spot": arr[:, cost0], "cost_rate_od": arr[:, cost0 + 1],
        "cost_rate_all_od": arr[:, cost0 + 2], "cost_cum": arr[:, cost0 + 3],
    }  # fmt: skip

    def column(name: str) -> np.ndarray:
        if name == "nodes":
            return arr[:, K.O_RS] + arr[:, K.O_RO] + arr[:, K.O_PS] + arr[:, K.O_PO]
        return derived[name] if name in derived else arr[:, _COLS[name]]

    if "series" in filters:
        names = SERIES_NAMES if "all" in filters["series"] else [n for n in SERIES_NAMES if n in filters["series"]]
        for name in names:
            labels = dict(base, series=name)
            for n2, cap, state in _SPLIT:
                if n2 == name:
                    labels.update(capacity_type=cap, state=state)
            yield labels, column(name)
        return
    split = {"capacity_type", "state"} & (set(filters) | set(group))
    if not split:
        yield base, column("nodes")
        return
    for name, cap, state in _SPLIT:
        labels = dict(base, capacity_type=cap, state=state)
        if all(labels[k] in filters[k] for k in ("capacity_type", "state") if k in filters):
            yield labels, column(name)


def _reduce(m: np.ndarray, op: AggregateOperator) -> np.ndarray:
    """Reduce (buckets, samples) with NaN = no sample, along axis 1."""
    valid = ~np.isnan(m)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if op == AggregateOperator.COUNT:
            return n.astype(np.float64)
        if op == AggregateOperator.SUM:
            return np.where(valid, m, 0.0).sum(axis=1)
        if op == AggregateOperator.AVG:
            return np.where(valid, m, 0.0).sum(axis=1) / n
        if op == AggregateOperator.MAX:
            return np.where(valid, m, -np.inf).max(axis=1)
        if op == AggregateOperator.MIN:
            return np.where(valid, m, np.inf).min(axis=1)
        q = {AggregateOperator.P50: 50, AggregateOperator.P95: 95, AggregateOperator.P99: 99}[op]
        if valid.all():
            return np.percentile(m, q, axis=1)
        return np.nanpercentile(np.where(n[:, None] > 0, m, 0.0), q, axis=1) if m.size else np.zeros(len(m))


def _bucketize(raw, start: float, end: float, b0: float, nb: int, res: float, op: AggregateOperator, group: list[str]) -> list[MetricSeries]:
    k = int(round(res / RECORD_S))
    grouped: dict[tuple, tuple[dict[str, str], list[np.ndarray]]] = {}
    for labels, values, ts0 in raw:
        # place the samples on the bucket grid: (nb, k), NaN where no sample or outside [start, end)
        grid = np.full(nb * k, np.nan)
        off = int(round((ts0 - b0) / RECORD_S))
        t = ts0 + np.arange(len(values)) * RECORD_S
        ok = (t >= start - 1e-6) & (t < end) & (np.arange(len(values)) + off >= 0) & (np.arange(len(values)) + off < nb * k)
        idx = np.arange(len(values))[ok] + off
        grid[idx] = values[ok]
        m = grid.reshape(nb, k)
        if group:
            gl = {g: labels.get(g, "") for g in group}
            key = tuple(gl.values())
        else:
            gl, key = labels, tuple(sorted(labels.items()))
        grouped.setdefault(key, (gl, []))[1].append(m)
    out = []
    for gl, mats in grouped.values():
        m = mats[0] if len(mats) == 1 else np.concatenate(mats, axis=1)
        vals = _reduce(m, op)
        has = ~np.isnan(m).all(axis=1)
        points = [
            MetricPoint.model_construct(timestamp=datetime.fromtimestamp(b0 + i * res, UTC), value=float(vals[i]))
            for i in np.nonzero(has)[0]
        ]
        labels = [MetricSeriesLabel.model_construct(name=n, value=v) for n, v in gl.items()]
        out.append(MetricSeries.model_construct(labels=labels, value=points))
    return out


# -- demo ----------------------------------------------------------------------------------------

DEMO_USER = "me"


def seed_demo(store: Any, user_id: str = DEMO_USER, days: float = 7.0) -> bool:
    """Two clusters with a week of history: AWS g5.xlarge spot pool + GCP n2-standard-4 pool.

    The nodepools are created `days` before now (store ``now=`` backdating), so the metrics
    engine simulates a week on first query. Idempotent: does nothing if the demo exists.
    """
    if store.cluster_wire(user_id, "demo-aws") is not None:
        return False
    now = store.now()
    t0 = now - timedelta(days=days)
    store.create_cluster(user_id, {"id": "demo-aws", "description": "Demo: AWS us-east-1 GPU cluster",
                                   "cloud_provider": {"id": "aws", "name": "aws"}, "region": "us-east-1"}, now=t0)  # fmt: skip
    store.create_cluster(user_id, {"id": "demo-gcp", "description": "Demo: GCP us-east4 CPU cluster",
                                   "cloud_provider": {"id": "gcp", "name": "gcp"}, "region": "us-east4"}, now=t0)  # fmt: skip
    store.create_nodepool(user_id, "demo-aws", {
        "id": "gpu-spot", "description": "A10G spot pool with on-demand fallback",
        "instance_types": [{"id": "g5.xlarge"}], "node_capacity_type": {"capacity_types": [2, 1]},
        "min_instances": 1, "max_instances": 6,
        # stress-test preemption rate so a week shows some (autoscaling.md §4.3: 1-5 %/node-h)
        "metadata": {"sim": {"spot_hazard_per_hour": 0.01}},
    }, now=t0)  # fmt: skip
    store.create_nodepool(user_id, "demo-gcp", {
        "id": "cpu-pool", "description": "General-purpose CPU pool",
        "instance_types": [{"id": "n2-standard-4"}], "node_capacity_type": {"capacity_types": [1]},
        "min_instances": 0, "max_instances": 8,
    }, now=t0)  # fmt: skip
    store.create_deployment(user_id, {
        "id": "demo-llm", "description": "LLM chat on the GPU spot pool",
        "worker": {"model": {"id": "llama-3-8b", "user_id": "meta", "app_id": "Llama-3",
                             "model_version": {"id": "v1"}}},
        "nodepools": [{"id": "gpu-spot", "compute_cluster": {"id": "demo-aws", "user_id": user_id}}],
        "autoscale_config": {"min_replicas": 1, "max_replicas": 6, "scale_up_delay_seconds": 60,
                             "scale_down_delay_seconds": 300, "scale_to_zero_delay_seconds": 1800,
                             "traffic_history_seconds": 120},
        "metadata": {"workload": {"base_rps": 2.0, "diurnal_amplitude": 0.7, "bursts_per_day": 2}},
    }, now=t0)  # fmt: skip
    store.create_deployment(user_id, {
        "id": "demo-embed", "description": "Text embeddings on CPU, scales to zero",
        "worker": {"model": {"id": "bge-small", "user_id": "baai", "app_id": "embeddings",
                             "model_version": {"id": "v1"}}},
        "nodepools": [{"id": "cpu-pool", "compute_cluster": {"id": "demo-gcp", "user_id": user_id}}],
        "autoscale_config": {"min_replicas": 0, "max_replicas": 12, "scale_up_delay_seconds": 30,
                             "scale_down_delay_seconds": 300, "scale_to_zero_delay_seconds": 900},
        "metadata": {"workload": {"base_rps": 25.0, "diurnal_amplitude": 0.9, "weekend_factor": 0.3},
                     "resources": {"cpu": 1, "memory_gib": 2, "service_s": 0.5}},
    }, now=t0)  # fmt: skip
    return True
