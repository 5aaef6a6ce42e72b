"""Inputs of the simulator: a nodepool (PoolSpec), the deployments on it (DeploymentSpec) and
their traffic (Workload). Plain dataclasses; `from_wire` reads Clarifai wire JSON dicts.

Every default names its source: "AS §x" = /work/shared/reference/autoscaling.md section x
(the project's autoscaling reference; the primary sources are cited there).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

# ---- cited defaults ---------------------------------------------------------------------------
STEP_S = 10.0  # AS §3.1 dt: CA scan interval 10 s (Ray 5 s, SkyServe 20 s)
PROV_DELAY_CPU_S = 120.0  # AS §3.1 prov_delay CPU 60-240 s; CA FAQ (AS §1.1) 3-4 min on GCE
PROV_DELAY_GPU_S = 300.0  # AS §3.1 prov_delay GPU 180-600 s incl. driver/image/model load (assumption)
NOTICE_AWS_S = 120.0  # AS §1.2/§4.3: AWS spot interruption notice 2 min
NOTICE_GCP_S = 30.0  # AS §1.3/§4.3: GKE spot graceful termination 30 s by default
SPOT_HAZARD_PER_H = 0.0003  # AS §3.1/§4.3: Spot Advisor >20 %/month ~ 0.03 %/node-hour (top bucket)
P_SPOT_ICE = 0.1  # AS §3.1 p_spot_ice 0.1 per spot launch (assumption)
ICE_TTL_S = 180.0  # AS §1.2: Karpenter UnavailableOfferingsTTL 3 min
P_LAUNCH_FAIL = 0.01  # AS §3.1 p_launch_fail 0-2 % (assumption)
BACKOFF_INITIAL_S = 60.0  # assumption (AS §1.1 gives only the cap); doubles per failure
BACKOFF_MAX_S = 1800.0  # AS §1.1: CA backs failing groups off for up to 30 min
SCALE_DOWN_UNNEEDED_S = 600.0  # AS §1.1: CA --scale-down-unneeded-time 10 min
DELAY_AFTER_ADD_S = 600.0  # AS §1.1: CA --scale-down-delay-after-add 10 min
BULK_DOWN = 10  # AS §1.1: CA --max-empty-bulk-delete 10
NODE_SCALE_UP_DELAY_S = 0.0  # AS §1.9: CA new-pod-scale-up-delay ~0 s
TARGET_UTIL = 0.7  # AS §1.7/§3.1: Knative target utilisation 70 %
DRAIN_TAU_S = 60.0  # AS §3.2 step 4: tau_drain ~ 1 min
SPOT_PRICE_RATIO = 0.45  # AS §4.1: missing spot price ~0.35-0.5 x OD (GPU), 0.4-0.5 x OD (CPU)
ALLOCATABLE_FRACTION = 0.9  # AS §4.1: Karpenter allocatable ~ 3.92/4 vCPU, 14162Mi/16Gi (0.86-0.98)
MAX_NODES_DEFAULT = 64  # AS §3.1 max_nodes 64
# deployment (Clarifai AutoscaleConfig, AS §1.8)
SCALE_UP_DELAY_S = 300.0  # AS §1.8: Clarifai code examples use 300 s up/down delays
SCALE_DOWN_DELAY_S = 300.0  # AS §1.8
SCALE_TO_ZERO_DELAY_S = 3600.0  # AS §1.8: examples use 3600 s scale-to-zero
TRAFFIC_HISTORY_S = 60.0  # AS §1.6: SkyServe measures QPS over a 60 s window (Knative stable window 60 s)
SERVICE_S_CPU = 0.5  # AS §3.1 service_s 0.5 s CPU model
SERVICE_S_GPU = 4.0  # AS §3.1 service_s 2-20 s LLM generation (lower end)
CONCURRENCY = 8  # AS §3.1 concurrency 8 slots
# workload (AS §3.1 demand trace)
DIURNAL_AMPLITUDE = 0.6  # AS §3.1 lambda(t) = base (1 + A sin(...)); A not given: assumption
PEAK_HOUR_UTC = 15.0  # assumption: US business-hours peak
WEEKEND_FACTOR = 0.6  # AS §3.1 weekend factor (value: assumption)
BURSTS_PER_DAY = 3.0  # AS §3.1 bursts ~3/day
BURST_MIN_S, BURST_MAX_S = 300.0, 1200.0  # AS §3.1 bursts 5-20 min
BURST_MULT_LO, BURST_MULT_HI = 2.0, 5.0  # AS §3.1 bursts 2-5x
BASE_LOAD_NODES = 1.5  # assumption: with no base_rps, mean demand fills 1.5 nodes at target util


def seconds(value: float, name: str = "duration") -> float:
    """A span in seconds. The simulator takes numbers only: strings like "7d" are read by the
    one duration grammar, compute_widgets.api.models.parse_duration (sim imports no api)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}={value!r}: give seconds as a number (e.g. 7 * 86400); "
            f"compute_widgets.api.models.parse_duration('7d') converts a string"
        )
    return float(value)


@dataclass
class Workload:
    """Requests per second of one deployment: diurnal + weekly cycle with bursts, or a trace.

    rate(t) = base_rps * (1 + diurnal_amplitude * cos(2 pi (hour_utc - peak_hour_utc) / 24))
              * (weekend_factor on Saturday/Sunday UTC) * (burst multiplier while a burst runs).
    Arrivals per step are Poisson(rate * step) (``poisson=False``: the mean, no noise).
    ``trace``: a pandas Series of requests/second (DatetimeIndex, or a numeric index in seconds
    from the start); it replaces the formula, held constant between samples, repeated when the
    simulation is longer than the trace.
    """

    base_rps: float | None = None  # None: fills BASE_LOAD_NODES nodes at target utilisation
    diurnal_amplitude: float = DIURNAL_AMPLITUDE
    peak_hour_utc: float = PEAK_HOUR_UTC
    weekend_factor: float = WEEKEND_FACTOR
    bursts_per_day: float = BURSTS_PER_DAY
    burst_min_s: float = BURST_MIN_S
    burst_max_s: float = BURST_MAX_S
    burst_multiplier_lo: float = BURST_MULT_LO
    burst_multiplier_hi: float = BURST_MULT_HI
    poisson: bool = True
    trace: Any = None  # pandas.Series | None

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> Workload:
        """Read ``metadata["workload"]`` (or the same keys at the top level); unknown keys ignored."""
        md = dict(metadata or {})
        src = md.get("workload") if isinstance(md.get("workload"), dict) else md
        known = {f.name for f in fields(cls)} - {"trace"}
        kw = {}
        for k in known:
            if k in src and src[k] is not None:
                kw[k] = bool(src[k]) if k == "poisson" else float(src[k])
        if "rps" in src and "base_rps" not in kw:
            kw["base_rps"] = float(src["rps"])
        return cls(**kw)


@dataclass
class PoolSpec:
    """A nodepool: one instance type, min/max nodes, spot (with on-demand fallback), cloud knobs."""

    instance_id: str = "node"
    vcpu: float = 4.0
    memory_gib: float = 16.0
    gpus: int = 0
    gpu_memory_gib: float = 0.0  # per GPU
    price_od: float = 0.2  # USD/h
    price_spot: float | None = None  # USD/h; None: price_od * SPOT_PRICE_RATIO
    min_nodes: int = 1
    max_nodes: int = MAX_NODES_DEFAULT
    spot: bool = False
    gpu: bool | None = None  # None: gpus > 0
    spot_strict: bool = False  # True: never fall back to on-demand (wait instead)
    cloud: str = "aws"
    provisioning_delay_s: float | None = None  # None: CPU/GPU default above
    spot_notice_s: float | None = None  # None: by cloud (aws 120 s, gcp 30 s)
    spot_hazard_per_hour: float = SPOT_HAZARD_PER_H
    p_spot_ice: float = P_SPOT_ICE
    ice_ttl_s: float = ICE_TTL_S
    p_launch_fail: float = P_LAUNCH_FAIL
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    scale_down_unneeded_s: float = SCALE_DOWN_UNNEEDED_S
    delay_after_add_s: float = DELAY_AFTER_ADD_S
    bulk_down: int = BULK_DOWN
    node_scale_up_delay_s: float = NODE_SCALE_UP_DELAY_S

    def __post_init__(self) -> None:
        if self.gpu is None:
            self.gpu = self.gpus > 0
        if self.price_spot is None:
            self.price_spot = round(self.price_od * SPOT_PRICE_RATIO, 6)
        if self.provisioning_delay_s is None:
            self.provisioning_delay_s = PROV_DELAY_GPU_S if self.gpu else PROV_DELAY_CPU_S
        if self.spot_notice_s is None:
            self.spot_notice_s = NOTICE_GCP_S if self.cloud.lower() in ("gcp", "google") else NOTICE_AWS_S
        if self.max_nodes < 0 or self.min_nodes < 0:
            raise ValueError("min_nodes and max_nodes must be >= 0")

    def with_(self, **changes: Any) -> PoolSpec:
        return replace(self, **changes)

    @classmethod
    def from_wire(cls, nodepool: dict, instance: dict | None = None, **overrides: Any) -> PoolSpec:
        """From a Clarifai Nodepool dict and its InstanceType dict (snake_case or camelCase).

        Knobs can also come from ``nodepool["metadata"]["sim"]`` (same names as the fields),
        which is how the local control plane's demo turns on stress-test preemption rates.
        ``instance`` may carry ``price_od``/``price_spot`` (USD/h; the local catalog adds them);
        otherwise USD/h = float(price) * 0.036 (clarifai-api.md §2.3 price rule).
        """
        np_ = _snake(nodepool)
        inst = _snake(instance if instance is not None else (np_.get("instance_types") or [{}])[0])
        ci = _snake(inst.get("compute_info") or {})
        gpus = int(ci.get("num_accelerators") or 0)
        price_od = inst.get("price_od")
        if price_od is None:
            try:
                price_od = float(inst.get("price") or 0) * 0.036
            except ValueError:
                price_od = 0.0
        caps = (np_.get("node_capacity_type") or {}).get("capacity_types") or []
        spot = any(c in (2, "SPOT_TYPE") for c in caps)
        cloud = (
            ((np_.get("compute_cluster") or {}).get("cloud_provider") or {}).get("id")
            or (inst.get("cloud_provider") or {}).get("id")
            or "aws"
        )
        kw: dict[str, Any] = dict(
            instance_id=str(inst.get("id") or "node"),
            vcpu=float(inst.get("vcpu") or parse_cpu(ci.get("cpu_limit")) or 4.0),
            memory_gib=float(inst.get("memory_gib") or parse_memory_gib(ci.get("cpu_memory")) or 16.0),
            gpus=gpus,
            gpu_memory_gib=float(
                inst.get("gpu_memory_gib") or parse_memory_gib(ci.get("accelerator_memory")) or 0.0
            ),
            price_od=float(price_od),
            price_spot=None if inst.get("price_spot") in (None, "") else float(inst["price_spot"]),
            min_nodes=int(np_.get("min_instances") or 0),
            max_nodes=int(np_.get("max_instances") or 0),
            spot=spot,
            cloud=str(cloud),
        )
        if not any(c in (1, "ON_DEMAND_TYPE") for c in caps) and spot:
            kw["spot_strict"] = False  # Clarifai falls back to OD automatically (AS §1.8)
        sim_md = (np_.get("metadata") or {}).get("sim") or {}
        names = {f.name for f in fields(cls)}
        kw.update({k: v for k, v in sim_md.items() if k in names})
        kw.update(overrides)
        return cls(**kw)


@dataclass
class DeploymentSpec:
    """One deployment's AutoscaleConfig, replica footprint and workload."""

    min_replicas: int = 0
    max_replicas: int = 5
    scale_up_delay_s: float = SCALE_UP_DELAY_S
    scale_down_delay_s: float = SCALE_DOWN_DELAY_S
    scale_to_zero_delay_s: float = SCALE_TO_ZERO_DELAY_S
    traffic_history_s: float = TRAFFIC_HISTORY_S
    disable_packing: bool = False
    replica_cpu: float | None = None  # None: 1 core
    replica_mem_gib: float | None = None  # None: 2 GiB on CPU pools, 4 GiB on GPU pools
    replica_gpus: float | None = None  # None: 1 on GPU pools, 0 on CPU pools
    replica_gpu_mem_gib: float | None = None  # None: 70 % of one GPU's memory
    service_s: float | None = None  # None: CPU 0.5 s / GPU 4 s (AS §3.1)
    concurrency: int = CONCURRENCY
    target_util: float = TARGET_UTIL
    workload: Workload = field(default_factory=Workload)
    name: str = "deployment"
    model_id: str = ""

    @classmethod
    def from_wire(cls, deployment: dict, **overrides: Any) -> DeploymentSpec:
        """From a Clarifai Deployment dict; workload/resources from its ``metadata``.

        metadata keys (all optional): ``workload`` {base_rps, diurnal_amplitude, peak_hour_utc,
        weekend_factor, bursts_per_day, ...}; ``resources`` {cpu, memory_gib, gpus,
        gpu_memory_gib, service_s, concurrency}.
        """
        d = _snake(deployment)
        ac = _snake(d.get("autoscale_config") or {})
        md = d.get("metadata") or {}
        res = md.get("resources") if isinstance(md.get("resources"), dict) else {}
        model = ((d.get("worker") or {}).get("model")) or {}

        def num(key: str, default: float) -> float:
            v = ac.get(key)
            return float(v) if v not in (None, "") else default

        kw: dict[str, Any] = dict(
            min_replicas=int(num("min_replicas", 0)),
            max_replicas=int(num("max_replicas", 5)) or 5,
            scale_up_delay_s=num("scale_up_delay_seconds", SCALE_UP_DELAY_S),
            scale_down_delay_s=num("scale_down_delay_seconds", SCALE_DOWN_DELAY_S),
            scale_to_zero_delay_s=num("scale_to_zero_delay_seconds", SCALE_TO_ZERO_DELAY_S),
            traffic_history_s=num("traffic_history_seconds", TRAFFIC_HISTORY_S),
            disable_packing=bool(ac.get("disable_packing") or False),
            replica_cpu=_opt_float(res.get("cpu")),
            replica_mem_gib=_opt_float(res.get("memory_gib")),
            replica_gpus=_opt_float(res.get("gpus")),
            replica_gpu_mem_gib=_opt_float(res.get("gpu_memory_gib")),
            service_s=_opt_float(res.get("service_s") or (md.get("workload") or {}).get("service_s")),
            concurrency=int(res.get("concurrency") or CONCURRENCY),
            workload=Workload.from_metadata(md),
            name=str(d.get("id") or "deployment"),
            model_id=str(model.get("id") or ""),
        )
        kw["scale_to_zero_delay_s"] = max(kw["scale_to_zero_delay_s"], kw["scale_down_delay_s"])
        kw.update(overrides)
        return cls(**kw)

    def resolved(self, pool: PoolSpec) -> DeploymentSpec:
        """Fill the None footprint fields for this pool (CPU vs GPU defaults)."""
        gpu = bool(pool.gpu)
        return replace(
            self,
            replica_cpu=1.0 if self.replica_cpu is None else self.replica_cpu,
            replica_mem_gib=(4.0 if gpu else 2.0) if self.replica_mem_gib is None else self.replica_mem_gib,
            replica_gpus=(1.0 if gpu else 0.0) if self.replica_gpus is None else self.replica_gpus,
            replica_gpu_mem_gib=(0.7 * pool.gpu_memory_gib if gpu else 0.0)
            if self.replica_gpu_mem_gib is None
            else self.replica_gpu_mem_gib,
            service_s=(SERVICE_S_GPU if gpu else SERVICE_S_CPU) if self.service_s is None else self.service_s,
        )

    def replicas_per_node(self, pool: PoolSpec) -> float:
        """How many replicas fit on one node (allocatable resources); 1 with disable_packing."""
        r = self.resolved(pool)
        fits = [
            pool.vcpu * ALLOCATABLE_FRACTION / r.replica_cpu if r.replica_cpu else math.inf,
            pool.memory_gib * ALLOCATABLE_FRACTION / r.replica_mem_gib if r.replica_mem_gib else math.inf,
            pool.gpus / r.replica_gpus if r.replica_gpus else math.inf,
        ]
        n = math.floor(min(fits) + 1e-9)
        if n == math.inf:
            n = 64
        if self.disable_packing:
            return 1.0 if n >= 1 else 0.0
        return float(max(n, 0))


def _opt_float(v: Any) -> float | None:
    return None if v in (None, "") else float(v)


def _snake(d: Any) -> dict:
    """camelCase -> snake_case keys, one level (nested dicts are converted where read)."""
    if not isinstance(d, dict):
        return {}
    out = {}
    for k, v in d.items():
        s = re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower()
        out[s] = _snake(v) if isinstance(v, dict) and s not in ("metadata",) else v
    return out


def parse_cpu(q: Any) -> float | None:
    """k8s CPU quantity: "3535m" -> 3.535, "4" -> 4.0."""
    if q in (None, ""):
        return None
    s = str(q)
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)


def parse_memory_gib(q: Any) -> float | None:
    """k8s memory quantity -> GiB: "13878Mi", "16Gi", "22888Mi", "16G"."""
    if q in (None, ""):
        return None
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGTP]i?)?\s*", str(q))
    if not m:
        return None
    n, unit = float(m.group(1)), m.group(2) or ""
    scale = {
        "": 1 / 2**30, "Ki": 1 / 2**20, "Mi": 1 / 2**10, "Gi": 1.0, "Ti": 2**10, "Pi": 2**20,
        "K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30, "P": 1e15 / 2**30,
    }[unit]
    return n * scale
