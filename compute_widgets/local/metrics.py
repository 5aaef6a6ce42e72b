"""Metrics and runner events of the local control plane, fed by the simulator (sim/).

Each nodepool's history is simulated at 10 s steps with one record per minute, in independent
segments of `SEGMENT_S` (one UTC day): a segment starts from an empty pool `WARMUP_S`
(2 h) before its own start, or at the pool's creation, so it can be rebuilt alone and always
gives the same values. History is kept for `RETENTION_S` (15 days of one-minute samples, like
Prometheus' default retention and CloudWatch's one-minute tier); a long clock jump simulates
only the segments asked for, never the years in between. Segments live in one LRU cache of at
most `CACHE_BYTES` across all pools and are rebuilt on demand; per pool only settings,
deployments and each complete segment's ($, events) totals are kept. The open segment (the one
holding now) keeps its kernel state and advances incrementally.
Nodepool revisions (store.nodepool_revisions) apply from their effective
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
- Default window: the last hour. The window is clipped to what is kept (from `oldest_kept(now)`,
  a segment start 15 days ago, to now); a window that ends before it, a resolution longer than
  the retention, more than `MAX_POINTS` buckets per series, more than `MAX_QUERY_SAMPLES`
  one-minute samples (series x minutes) or more than `MAX_QUERY_SEGMENTS` pool segments to
  simulate is refused before anything is simulated or allocated (`QueryTooLarge`, a 400 naming
  the field to narrow).
- ``cost_cum`` is $ since the pool's creation, or since the oldest time kept for a pool older
  than the retention.

Events (ListLogEntries runner.events): LogEntry(message=human line, log_type="runner.events",
meta={timestamp (RFC 3339), kind, count, capacity_type, reason}), chronological.
node_state: node_count = ready + pending nodes now; status PENDING until a first node was
ready (or the provisioning delay passed), then READY.
"""

from __future__ import annotations

import math
import os
import threading
import zlib
from collections import OrderedDict
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
from compute_widgets.local.wire import ON_LOOP, NeedsThread
from compute_widgets.sim import (
    DEPLOYMENT_COLUMNS,
    EVENT_COLUMNS,
    POOL_RECORD_COLUMNS,
    DeploymentSpec,
    PoolRunner,
    PoolSpec,
    events_records,
    pool_spec_from,
)

STEP_S = 10.0  # simulation step (autoscaling.md §3.1)
RECORD_EVERY = 6  # one record per minute
RECORD_S = STEP_S * RECORD_EVERY
ON_LOOP_STEPS = 60  # node_state catches up at most this many steps on the event loop (~0.1 ms)
# History is simulated in independent segments of SEGMENT_S, aligned to UTC days. Each segment
# starts from an empty pool WARMUP_S before its start (or at creation) and shows only its own
# span, so any segment can be rebuilt alone, in ~9,400 steps (~2 ms), with the same values
# whatever was simulated or evicted before: a ten-year clock jump costs one segment per pool,
# not ten years of 10 s steps. 2 h covers the model's longest memory (backoff <= 30 min, bursts
# <= 20 min, boot <= 10 min, scale-to-zero 30 min), so the seam at a segment start is small.
SEGMENT_S = 86400.0
WARMUP_S = 2 * 3600.0
# Retention: one-minute samples for 15 days, Prometheus' default retention and CloudWatch's
# one-minute tier; older points are gone (a query is clipped to what is kept). What a pool keeps
# is bounded by this, what the engine keeps in memory by CACHE_BYTES (least recently used
# segments are dropped and rebuilt on demand; COMPUTE_WIDGETS_METRICS_CACHE_MB sets another budget).
RETENTION_S = 15 * 86400.0
CACHE_BYTES = 256 * 2**20
MAX_POINTS = 20000
# What one query may cost, checked before anything is simulated or allocated: one-minute samples
# read (series x minutes in the window) and pool segments simulated.
MAX_QUERY_SAMPLES = 4_000_000
MAX_QUERY_SEGMENTS = 1500  # ~2-3 ms each on one busy core: <= 5 s
LOG_TYPE = "runner.events"

# the simulator's record columns by name: pool rows (N_POOL wide), deployment blocks (N_DEP)
_COLS = {name: i for i, name in enumerate(POOL_RECORD_COLUMNS)}
_DEP_COLS = {name: i for i, name in enumerate(DEPLOYMENT_COLUMNS)}
N_POOL, N_DEP = len(POOL_RECORD_COLUMNS), len(DEPLOYMENT_COLUMNS)
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
_MODEL_LABELS = {"MODEL_ID", "DEPLOYMENT_ID", "APP_ID", "MODEL_VERSION_ID"}
_EVENT_BYTES = 400  # rough size of one cached event dict


class QueryTooLarge(ValueError):
    """A query over the cost caps; the message names the fields to narrow (the server's 400)."""


def _epoch(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def oldest_kept(now: float) -> float:
    """The oldest time whose samples are kept at `now` (a segment start, RETENTION_S or a bit more ago)."""
    return math.floor((now - RETENTION_S) / SEGMENT_S) * SEGMENT_S


@dataclass
class _Dep:
    slot: int
    id: str
    labels: dict[str, str]
    spec: DeploymentSpec
    active_from: float  # epoch
    active_to: float = math.inf  # epoch: deleted then (as first noticed)


@dataclass
class _Pool:
    """What the engine knows of one nodepool (small, never evicted): settings, deployments, totals."""

    origin: float
    revisions: list[tuple[float, Nodepool]]
    seed: int
    gen: int = 0  # bumped when the history must be rebuilt from the store (drops cached segments)
    deps: dict[str, _Dep] = field(default_factory=dict)
    gpu: bool = False
    prov_s: float = 0.0
    hwm: float = 0.0  # latest time simulated: a deployment joining later joins from here on
    stale_deployments: bool = True
    totals: dict[int, tuple[float, int]] = field(default_factory=dict)  # complete segment -> ($, events)
    specs: dict[int, PoolSpec] = field(default_factory=dict)  # revision index -> its PoolSpec
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step_of(self, t: float) -> int:
        """Absolute step of time t, rounded up to a record boundary (changes apply from there)."""
        return int(math.ceil((t - self.origin) / RECORD_S - 1e-9)) * RECORD_EVERY


@dataclass
class _Segment:
    """One segment's shown records (float32 kernel rows), cost columns, events; runner while open."""

    index: int
    shown_step: int  # absolute step of the first shown record
    end_step: int  # simulated up to here
    full_step: int  # the segment's end
    runner: PoolRunner | None = None
    pool_chunks: list[np.ndarray] = field(default_factory=list)  # rows x N_POOL, float32
    extra_chunks: list[np.ndarray] = field(default_factory=list)  # rows x 4: $/h spot, od, all-od, $ per row
    dep_chunks: dict[int, list[np.ndarray]] = field(default_factory=dict)  # slot -> rows x N_DEP
    events: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return (self.end_step - self.shown_step) // RECORD_EVERY if self.end_step > self.shown_step else 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
        """(pool rows, extra rows, slot -> deployment rows with NaN where it was not active)."""
        if len(self.pool_chunks) != 1:
            self.pool_chunks = [np.concatenate(self.pool_chunks) if self.pool_chunks else np.zeros((0, N_POOL), np.float32)]
            self.extra_chunks = [np.concatenate(self.extra_chunks) if self.extra_chunks else np.zeros((0, 4))]
        for slot, chunks in self.dep_chunks.items():
            if len(chunks) != 1:
                self.dep_chunks[slot] = [np.concatenate(chunks)]
        return self.pool_chunks[0], self.extra_chunks[0], {s: c[0] for s, c in self.dep_chunks.items()}

    def nbytes(self) -> int:
        n = sum(c.nbytes for c in self.pool_chunks) + sum(c.nbytes for c in self.extra_chunks)
        n += sum(c.nbytes for chunks in self.dep_chunks.values() for c in chunks)
        n += len(self.events) * _EVENT_BYTES + 1024
        if self.runner is not None:
            n += self.runner.nbytes + 4096
        return n


class MetricsEngine:
    """PostMetricsQuery, runner events and live node state from the simulator (see module doc)."""

    def __init__(self, store: Any, catalog: Any, clock: Any, cache_bytes: int | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        if cache_bytes is None:  # the server's budget; COMPUTE_WIDGETS_METRICS_CACHE_MB overrides it
            mb = os.environ.get("COMPUTE_WIDGETS_METRICS_CACHE_MB", "")
            cache_bytes = int(float(mb) * 2**20) if mb.replace(".", "", 1).isdigit() else CACHE_BYTES
        self.cache_bytes = int(cache_bytes)
        self._pools: dict[tuple[str, str, str], _Pool] = {}
        self._cache: OrderedDict[tuple, tuple[_Segment, int]] = OrderedDict()  # LRU: segment, bytes
        self._cached = 0
        self._lock = threading.Lock()
        self.segments_built = 0  # segments simulated (for benchmarks)

    # -- what is known of the pools ------------------------------------------------------------

    def invalidate(self, user_id: str, cc_id: str, np_id: str) -> None:
        """After a PATCH/DELETE of the nodepool or a change of its deployments."""
        key = (user_id, cc_id, np_id)
        with self._lock:
            pool = self._pools.get(key)
        if pool is None:
            return
        revs = [(_epoch(t), n) for t, n in self.store.nodepool_revisions(user_id, cc_id, np_id)]
        with pool.lock:
            if not revs:  # deleted
                with self._lock:
                    self._pools.pop(key, None)
                    self._drop(key)
                return
            known = len(pool.revisions)
            # a revision effective before what is simulated (the clock only moves forward, so
            # this should not happen) -> rebuild everything from the store
            if revs[:known] != pool.revisions[:known] or any(t < pool.hwm - 1e-6 for t, _ in revs[known:]):
                pool.gen += 1
                pool.totals.clear()
                with self._lock:
                    self._drop(key)
            pool.revisions = revs
            pool.specs.clear()
            pool.stale_deployments = True

    def _drop(self, key: tuple[str, str, str]) -> None:
        for k in [k for k in self._cache if k[0] == key]:
            self._cached -= self._cache.pop(k)[1]

    def _pool(self, user_id: str, cc_id: str, np_id: str) -> _Pool | None:
        key = (user_id, cc_id, np_id)
        with self._lock:
            pool = self._pools.get(key)
        if pool is None:
            revs = [(_epoch(t), n) for t, n in self.store.nodepool_revisions(user_id, cc_id, np_id)]
            if not revs:
                return None
            np0 = revs[0][1]
            created = _epoch(np0.created_at) if np0.created_at else revs[0][0]
            origin = math.floor(created / RECORD_S) * RECORD_S
            pool = _Pool(origin=origin, revisions=revs, seed=_seed(*key), hwm=origin)
            spec = self._pool_spec(np0)
            pool.gpu, pool.prov_s = bool(spec.gpu), float(spec.provisioning_delay_s)
            with self._lock:
                pool = self._pools.setdefault(key, pool)
        if pool.stale_deployments:
            with pool.lock:
                if pool.stale_deployments:
                    self._refresh_deployments(key, pool)
        return pool

    def _pool_spec(self, nodepool: Nodepool) -> PoolSpec:
        """sim.pool_spec_from with the catalog's specs and prices and the enforced min/max."""
        extra: dict[str, Any] = {}
        try:
            spec = self.catalog.spec(nodepool.instance_type_id)
            extra = dict(vcpu=spec.vcpu, memory_gib=spec.memory_gib, gpus=spec.gpus,
                         gpu_memory_gib=spec.gpu_memory_gib, price_od=spec.price_od,
                         price_spot=spec.price_spot, gpu=spec.is_gpu, cloud=spec.provider or "aws")  # fmt: skip
        except (KeyError, AttributeError):
            pass
        return pool_spec_from(
            nodepool,
            min_nodes=int(nodepool.enforced_min_instances or nodepool.min_instances or 0),
            max_nodes=int(nodepool.enforced_max_instances or nodepool.max_instances or 0),
            **extra,
        )

    def _refresh_deployments(self, key: tuple[str, str, str], pool: _Pool) -> None:
        user_id, cc_id, np_id = key
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
            created = _epoch(d.created_at) if d.created_at else pool.hwm
            old = pool.deps.get(d.id)
            if old is None:  # joins from its creation, never before what is already simulated
                pool.deps[d.id] = _Dep(len(pool.deps), d.id, labels, spec, max(created, pool.hwm))
            else:
                old.spec, old.labels, old.active_to = spec, labels, math.inf
        for d in pool.deps.values():
            if d.id not in seen and d.active_to == math.inf:
                d.active_to = pool.hwm
        pool.stale_deployments = False

    # -- segments ------------------------------------------------------------------------------

    def _target_step(self, pool: _Pool, now: float) -> int:
        return max(0, int((now - pool.origin) // RECORD_S)) * RECORD_EVERY

    def _seg_index(self, t: float) -> int:
        return int(math.floor(t / SEGMENT_S))

    def _segment(self, key: tuple[str, str, str], pool: _Pool, index: int, target: int) -> _Segment:
        """Segment `index` of the pool simulated up to absolute step `target` (or its end)."""
        ckey = (key, pool.gen, index)
        with self._lock:
            hit = self._cache.get(ckey)
            if hit is not None:
                self._cache.move_to_end(ckey)
        seg = hit[0] if hit else None
        full = max(0, pool.step_of((index + 1) * SEGMENT_S))
        want = min(target, full)
        if seg is not None:  # cached: complete, or open with its runner
            if seg.end_step < want:
                self._simulate(pool, seg, want)
        else:
            shown = max(0, pool.step_of(index * SEGMENT_S))
            warm = max(0, pool.step_of(index * SEGMENT_S - WARMUP_S))
            seg = _Segment(index, shown, warm, full)
            if 0 not in pool.specs:
                pool.specs[0] = self._pool_spec(pool.revisions[0][1])
            seg.runner = PoolRunner(pool.specs[0], [], origin=pool.origin, step=STEP_S,
                                    seed=pool.seed, record_every=RECORD_EVERY)  # fmt: skip
            seg.runner.step = warm
            self._simulate(pool, seg, want)
            self.segments_built += 1
        if seg.end_step >= full:
            seg.runner = None  # complete: the kernel state is not needed any more
            if index not in pool.totals:
                _, extra, _ = seg.arrays()
                pool.totals[index] = (float(extra[:, 3].sum()), len(seg.events))
        pool.hwm = max(pool.hwm, pool.origin + seg.end_step * STEP_S)
        self._remember(ckey, seg)
        return seg

    def _remember(self, ckey: tuple, seg: _Segment) -> None:
        size = seg.nbytes()
        with self._lock:
            old = self._cache.pop(ckey, None)
            if old is not None:
                self._cached -= old[1]
            self._cache[ckey] = (seg, size)
            self._cached += size
            while self._cached > self.cache_bytes and len(self._cache) > 1:
                self._cached -= self._cache.popitem(last=False)[1][1]

    def cache_size(self) -> tuple[int, int]:
        """(segments cached, their bytes)."""
        with self._lock:
            return len(self._cache), self._cached

    def _simulate(self, pool: _Pool, seg: _Segment, target: int) -> None:
        """Advance the segment's runner to `target`, breaking at every settings change."""
        runner = seg.runner
        cuts = {target, seg.shown_step}
        cuts.update(pool.step_of(t) for t, _ in pool.revisions[1:])
        for d in pool.deps.values():
            cuts.add(pool.step_of(d.active_from))
            if d.active_to != math.inf:
                cuts.add(pool.step_of(d.active_to))
        for cut in sorted(c for c in cuts if runner.step < c <= target):
            self._configure(pool, runner)
            self._run(pool, seg, cut - runner.step)
        seg.end_step = max(seg.end_step, runner.step)

    def _configure(self, pool: _Pool, runner: PoolRunner) -> None:
        """Settings in force at the runner's step: the latest revision by then, the joined deployments."""
        idx = 0
        for i, (eff, _) in enumerate(pool.revisions):
            if pool.step_of(eff) <= runner.step:
                idx = i
        if idx not in pool.specs:
            pool.specs[idx] = self._pool_spec(pool.revisions[idx][1])
        slots = sorted(pool.deps.values(), key=lambda d: d.slot)
        runner.configure(pool.specs[idx], [d.spec for d in slots])
        for d in slots:
            live = pool.step_of(d.active_from) <= runner.step < (pool.step_of(d.active_to) if d.active_to != math.inf else math.inf)
            if not live:
                runner.deactivate(d.slot)

    def _run(self, pool: _Pool, seg: _Segment, n: int) -> None:
        runner = seg.runner
        step0 = runner.step
        rec, ev = runner.advance(n)
        if runner.step <= seg.shown_step:
            return  # warm-up: neither records nor events are shown
        price = runner.pool
        ns_s = rec[:, _COLS["node_seconds_spot"]].astype(np.float64)
        ns_o = rec[:, _COLS["node_seconds_od"]].astype(np.float64)
        extra = np.column_stack([ns_s / RECORD_S * price.price_spot, ns_o / RECORD_S * price.price_od,
                                 (ns_s + ns_o) / RECORD_S * price.price_od,
                                 (ns_s * price.price_spot + ns_o * price.price_od) / 3600.0])  # fmt: skip
        seg.pool_chunks.append(np.ascontiguousarray(runner.pool_records(rec)))
        seg.extra_chunks.append(extra)
        rows_before = (step0 - seg.shown_step) // RECORD_EVERY
        for d in pool.deps.values():
            block = runner.deployment_records(rec, d.slot).copy()
            if not runner.is_active(d.slot):
                block[:] = np.nan
            chunks = seg.dep_chunks.setdefault(d.slot, [])
            if not chunks and rows_before:
                chunks.append(np.full((rows_before, N_DEP), np.nan, np.float32))
            chunks.append(block)
        seg.events.extend(events_records(ev, pool.origin, STEP_S))

    def _kept_segments(self, pool: _Pool, now: float) -> range:
        """Indexes of the pool's segments kept at `now`, oldest first (the last one is open)."""
        target_t = pool.origin + self._target_step(pool, now) * STEP_S
        first = self._seg_index(max(pool.origin, oldest_kept(now)))
        return range(first, self._seg_index(target_t) + 1)

    # -- live state and events -----------------------------------------------------------------

    def node_state(self, user_id: str, cc_id: str, np_id: str) -> tuple[int, NodepoolStatus]:
        """(nodes now, status). On the event loop (`wire.ON_LOOP`) only when that is cheap: the
        pool known, its open segment cached and at most `ON_LOOP_STEPS` behind, its lock free;
        else `NeedsThread` (the caller reruns in a thread)."""
        key = (user_id, cc_id, np_id)
        on_loop = ON_LOOP.get()
        if on_loop:
            with self._lock:
                known = self._pools.get(key)
            if known is None or known.stale_deployments:
                raise NeedsThread
        pool = self._pool(*key)
        if pool is None:
            return 0, NodepoolStatus.NODEPOOL_STATUS_PENDING
        now = self.clock.timestamp()
        target = self._target_step(pool, now)
        index = self._seg_index(pool.origin + target * STEP_S)
        if not pool.lock.acquire(blocking=not on_loop):
            raise NeedsThread  # a thread is simulating this pool: never wait for it on the loop
        try:
            if on_loop:
                with self._lock:
                    hit = self._cache.get((key, pool.gen, index))
                if hit is None or target - hit[0].end_step > ON_LOOP_STEPS:
                    raise NeedsThread
            seg = self._segment(key, pool, index, target)
            nodes = seg.runner.node_counts() if seg.runner is not None else None
        finally:
            pool.lock.release()
        if nodes is None:
            return 0, NodepoolStatus.NODEPOOL_STATUS_PENDING
        age = now - pool.origin
        ready = nodes.ever_ready or age >= pool.prov_s
        return nodes.total, NodepoolStatus.NODEPOOL_STATUS_READY if ready else NodepoolStatus.NODEPOOL_STATUS_PENDING

    def deployment_replicas(self, user_id: str, cc_id: str, np_id: str) -> dict[str, tuple[int, int]]:
        """deployment id -> (live replicas, desired replicas) on this nodepool now: the last
        one-minute record of the simulation (what runners and deployment_metrics show)."""
        key = (user_id, cc_id, np_id)
        pool = self._pool(*key)
        if pool is None:
            return {}
        target = self._target_step(pool, self.clock.timestamp())
        with pool.lock:
            seg = self._segment(key, pool, self._seg_index(pool.origin + target * STEP_S), target)
            _, _, deps = seg.arrays()
        live, want = _DEP_COLS["replicas"], _DEP_COLS["target_replicas"]
        out = {}
        for d in pool.deps.values():
            if d.active_to != math.inf:
                continue
            rows = deps.get(d.slot)
            last = rows[-1] if rows is not None and len(rows) else None
            if last is None or np.isnan(last[live]):
                out[d.id] = (0, 0)
            else:  # replicas are fluid in the model: a starting one counts once it is whole
                out[d.id] = (int(math.floor(last[live] + 1e-6)), int(math.ceil(last[want] - 1e-6)))
        return out

    def _event_counts(self, key: tuple[str, str, str], pool: _Pool, now: float) -> list[tuple[int, int]]:
        """(segment, number of events) of every kept segment (complete ones are remembered)."""
        target = self._target_step(pool, now)
        out = []
        for i in self._kept_segments(pool, now):
            n = pool.totals[i][1] if i in pool.totals else len(self._segment(key, pool, i, target).events)
            out.append((i, n))
        return out

    def events_count(self, user_id: str, cc_id: str, np_id: str) -> int:
        key = (user_id, cc_id, np_id)
        pool = self._pool(*key)
        if pool is None:
            return 0
        with pool.lock:
            return sum(n for _, n in self._event_counts(key, pool, self.clock.timestamp()))

    def events(self, user_id: str, cc_id: str, np_id: str, page: int | None = None, per_page: int | None = None) -> list[LogEntry]:
        """One page (1-based; None = the last page) of the nodepool's kept events, oldest first.
        Only the segments that hold the page are simulated."""
        key = (user_id, cc_id, np_id)
        pool = self._pool(*key)
        if pool is None:
            return []
        per_page = per_page or 32
        now = self.clock.timestamp()
        target = self._target_step(pool, now)
        with pool.lock:
            counts = self._event_counts(key, pool, now)
            total = sum(n for _, n in counts)
            if page is None:
                page = max(1, math.ceil(total / per_page))
            lo, hi = (page - 1) * per_page, min(page * per_page, total)
            chunk: list[dict] = []
            pos = 0
            for i, n in counts:
                if pos + n > lo and pos < hi:
                    evs = self._segment(key, pool, i, target).events
                    chunk.extend(evs[max(0, lo - pos) : hi - pos])
                pos += n
        return [
            LogEntry(message=e["message"], log_type=LOG_TYPE, meta={
                c: _rfc3339(e[c]) if c == "timestamp" else e[c] for c in EVENT_COLUMNS if c != "message"})  # fmt: skip
            for e in chunk
        ]

    def check_log_cost(self, n_pools: int) -> None:
        """A listing of the events of `n_pools` nodepools at once must stay under the segment cap."""
        per_pool = int(math.ceil(RETENTION_S / SEGMENT_S)) + 2
        if n_pools * per_pool > MAX_QUERY_SEGMENTS:
            raise QueryTooLarge(
                f"nodepool_id: the events of {n_pools} nodepools at once would simulate {n_pools * per_pool} "
                f"pool segments (at most {MAX_QUERY_SEGMENTS}); list one nodepool's events at a time "
                f"(at most {MAX_QUERY_SEGMENTS // per_pool} nodepools per cluster listing)"
            )

    # -- PostMetricsQuery ----------------------------------------------------------------------

    def query(self, user_id: str, query: MetricSearchQuery) -> tuple[list[MetricSeries], str]:
        mt = MetricType(int(query.metric_type))
        now = self.clock.timestamp()
        end = _epoch(query.end_time) if query.end_time else now
        start = _epoch(query.start_time) if query.start_time else end - 3600.0
        res = parse_duration(query.resolution) if query.resolution else 300.0
        if res <= 0 or end < start:
            raise ValueError("start_time must be before end_time and resolution positive")
        if res > RETENTION_S:
            raise QueryTooLarge(
                f"resolution: {query.resolution} is longer than the {RETENTION_S / 86400:.0f} days of "
                f"history kept; use at most {format_duration(RETENTION_S)}"
            )
        res = max(RECORD_S, math.ceil(res / RECORD_S - 1e-9) * RECORD_S)
        kept = oldest_kept(now)
        if end <= kept:
            raise QueryTooLarge(
                f"end_time: metrics are kept for {RETENTION_S / 86400:.0f} days; the oldest time kept is "
                f"{_rfc3339(kept)}; ask for a window that ends after it"
            )
        # only what is kept (and not in the future) is read: clip before counting anything
        lo_t, hi_t = max(start, kept), min(end, now + RECORD_S)
        b0 = math.floor(lo_t / res) * res
        nb = max(1, math.ceil((max(hi_t, lo_t + 1e-6) - b0) / res))
        if nb > MAX_POINTS:
            raise QueryTooLarge(
                f"resolution: {nb} points requested; use a coarser resolution or a shorter window "
                f"(start_time, end_time) (at most {MAX_POINTS})"
            )
        filters = _filters(query)
        agg = query.aggregate
        op = AggregateOperator(int(agg.operator)) if agg and int(agg.operator) else None
        if op is None:
            op = AggregateOperator.SUM if mt == MetricType.MODEL_REQUEST_COUNT else AggregateOperator.AVG
        group = [_label_name(lb) for lb in (agg.labels if agg else [])]

        pools = []
        for cc_id, np_id in self.store.nodepool_keys(user_id):
            base = {"COMPUTE_CLUSTER_ID": cc_id, "NODEPOOL_ID": np_id}
            if _match(base, filters):
                pools.append((cc_id, np_id, base))
        self._check_cost(mt, filters, group, pools, lo_t, hi_t, b0, nb, res, now)

        raw: list[tuple[dict[str, str], np.ndarray, float]] = []  # labels, samples, time of sample 0
        for cc_id, np_id, base in pools:
            key = (user_id, cc_id, np_id)
            pool = self._pool(*key)
            if pool is None:
                continue
            deps = list(pool.deps.values())
            if _MODEL_LABELS & set(filters) and not any(_match(d.labels, filters) for d in deps):
                continue  # a model filter keeps the nodepools that serve the model
            if mt in _UTIL and _UTIL[mt][2] and not pool.gpu:
                continue
            want_cum = mt == MetricType.NODEPOOL_NODE_COUNT and bool({"all", "cost_cum"} & filters.get("series", set()))
            got = self._rows(key, pool, lo_t - RECORD_S, hi_t + RECORD_S, now, want_cum)
            if got is None:
                continue
            ts0, arr, dep_arr = got
            if mt == MetricType.NODEPOOL_NODE_COUNT:
                for labels, values in _node_series(arr, base, filters, group):
                    raw.append((labels, values, ts0))
            elif mt in _UTIL:
                name, scale, _ = _UTIL[mt]
                raw.append((base, arr[:, _COLS[name]] * scale, ts0))
            elif mt in (MetricType.MODEL_REQUEST_COUNT, MetricType.MODEL_E2E_LATENCY):
                col = _DEP_COLS["requests" if mt == MetricType.MODEL_REQUEST_COUNT else "latency_s"]
                for d in deps:
                    if d.slot in dep_arr and _match(d.labels, filters):
                        labels = {k: v for k, v in d.labels.items() if v}
                        raw.append((labels, dep_arr[d.slot][:, col].astype(np.float64), ts0))
        return _bucketize(raw, lo_t, hi_t, b0, nb, res, op, group), format_duration(res)

    def _check_cost(self, mt, filters, group, pools, lo_t, hi_t, b0, nb, res, now) -> None:
        """Refuse, before simulating or allocating anything, a query over MAX_QUERY_SAMPLES
        one-minute samples or MAX_QUERY_SEGMENTS pool segments (counted from the query alone,
        so the answer does not depend on what happens to be cached)."""
        n = len(pools)
        if mt == MetricType.NODEPOOL_NODE_COUNT:
            if "series" in filters:
                per = len(SERIES_NAMES) if "all" in filters["series"] else len(set(SERIES_NAMES) & filters["series"])
            else:
                per = 4 if {"capacity_type", "state"} & (set(filters) | set(group)) else 1
        elif mt in (MetricType.MODEL_REQUEST_COUNT, MetricType.MODEL_E2E_LATENCY):
            per = 1
            if "DEPLOYMENT_ID" in filters:
                per = len(filters["DEPLOYMENT_ID"])
            else:
                with self._lock:
                    per = max([len(p.deps) for p in self._pools.values()] + [1])
        else:
            per = 1
        samples = n * per * nb * int(round(res / RECORD_S))
        if samples > MAX_QUERY_SAMPLES:
            raise QueryTooLarge(
                f"start_time/end_time: this query reads {samples:,} one-minute samples ({n} nodepools x "
                f"{per} series x {nb * int(round(res / RECORD_S)):,} minutes), more than {MAX_QUERY_SAMPLES:,}; "
                f"narrow it: a later start_time or an earlier end_time, or a filter on NODEPOOL_ID or "
                f"COMPUTE_CLUSTER_ID"
            )
        want_cum = mt == MetricType.NODEPOOL_NODE_COUNT and bool({"all", "cost_cum"} & filters.get("series", set()))
        first = self._seg_index(oldest_kept(now) if want_cum else lo_t)
        segs = n * (self._seg_index(min(hi_t, now)) - first + 1)
        if segs > MAX_QUERY_SEGMENTS:
            raise QueryTooLarge(
                f"start_time/end_time: this query simulates {segs:,} pool segments ({n} nodepools x "
                f"{segs // max(n, 1)} segments of {format_duration(SEGMENT_S)}), more than "
                f"{MAX_QUERY_SEGMENTS:,}; narrow it: a later start_time or an earlier end_time, or a "
                f"filter on NODEPOOL_ID or COMPUTE_CLUSTER_ID"
            )

    def _rows(self, key, pool: _Pool, t_lo: float, t_hi: float, now: float, want_cum: bool):
        """(time of row 0, rows x (N_POOL + 4 cost columns), slot -> deployment rows) over the
        kept segments that overlap [t_lo, t_hi); None when nothing is kept there."""
        target = self._target_step(pool, now)
        kept = self._kept_segments(pool, now)
        if not len(kept):
            return None
        a = max(kept.start, self._seg_index(max(t_lo, pool.origin)))
        b = min(kept.stop - 1, self._seg_index(t_hi))
        if b < a:
            return None
        with pool.lock:
            base = 0.0
            if want_cum:  # $ since the oldest time kept (or creation): totals of the earlier segments
                for i in range(kept.start, a):
                    if i not in pool.totals:
                        self._segment(key, pool, i, target)
                    base += pool.totals[i][0]
            parts = [self._segment(key, pool, i, target).arrays() for i in range(a, b + 1)]
            first_step = max(0, pool.step_of(a * SEGMENT_S))
        pool_rows = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        extra = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        if not len(pool_rows):
            return None
        ts0 = pool.origin + first_step * STEP_S
        lo = max(0, int(math.floor((t_lo - ts0) / RECORD_S)))
        hi = min(len(pool_rows), int(math.ceil((t_hi - ts0) / RECORD_S)) + 1)
        if hi <= lo:
            return None
        cum = base + np.cumsum(extra[:hi, 3])[lo:]
        arr = np.hstack([pool_rows[lo:hi].astype(np.float64), extra[lo:hi, :3], cum[:, None]])
        dep_arr = {}
        for d in pool.deps.values():
            blocks = [p[2].get(d.slot) for p in parts]
            if all(x is None for x in blocks):
                continue
            full = np.concatenate([x if x is not None else np.full((len(p[0]), N_DEP), np.nan, np.float32)
                                   for x, p in zip(blocks, parts, strict=True)])  # fmt: skip
            dep_arr[d.slot] = full[lo:hi]
        return ts0 + lo * RECORD_S, arr, dep_arr


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
    cost0 = N_POOL
    derived = {
        "cost_rate_spot": arr[:, cost0], "cost_rate_od": arr[:, cost0 + 1],
        "cost_rate_all_od": arr[:, cost0 + 2], "cost_cum": arr[:, cost0 + 3],
    }  # fmt: skip

    def column(name: str) -> np.ndarray:
        if name == "nodes":
            split = [_COLS[n] for n, _cap, _state in _SPLIT]
            return arr[:, split].sum(axis=1)
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
