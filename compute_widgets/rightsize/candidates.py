"""The candidate grid: instance types x node range x capacity x scale-down delay, and the rule
for which instance types fit the deployments (pruned before anything is simulated).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from compute_widgets.sim import DeploymentSpec, PoolSpec, pool_spec_from

CAPACITIES = ("spot", "on_demand")
DEFAULT_DELAYS = (60.0, 300.0, 900.0)  # deployment scale_down_delay_seconds tried (AS §1.8: 300 s)
DEFAULT_MAX_REPLICAS = 1000  # a deployment we make up scales as far as the pool lets it


@dataclass(frozen=True)
class Candidate:
    """One setting to simulate: the pool (instance type, range, capacity) and the delay."""

    instance_type: str
    min_nodes: int
    max_nodes: int
    spot: bool
    scale_down_delay_s: float

    @property
    def key(self) -> tuple:
        return (self.instance_type, self.min_nodes, self.max_nodes, self.spot, self.scale_down_delay_s)


@dataclass(frozen=True)
class Need:
    """What one replica of the deployments needs of a node (the fit rule's inputs)."""

    gpu: bool
    gpu_memory_gib: float  # of one GPU, for the model's weights and cache
    accelerators: tuple[str, ...] = ()  # allowed accelerator types; () any

    def fits(self, it: Any) -> str:
        """"" when instance type `it` fits, else why not (words)."""
        if self.gpu and not it.is_gpu:
            return "no GPU"
        if not self.gpu and it.accelerators:
            return "has accelerators the deployments do not use"
        if self.gpu and it.gpu_memory_gib + 1e-9 < self.gpu_memory_gib:
            return f"{it.gpu_memory_gib:g} GiB per GPU < {self.gpu_memory_gib:g} GiB needed"
        if self.accelerators and it.accelerator not in self.accelerators:
            return f"accelerator {it.accelerator or 'none'} not in {', '.join(self.accelerators)}"
        return ""


def need_of(current_type: Any, deployments: list[DeploymentSpec], gpu: bool | None) -> Need:
    """The fit rule from the current instance type and the deployments' declared resources:
    a GPU when the current type has one (or a deployment asks for one); at least the GPU memory
    a replica uses (declared, else 70 % of the current type's GPU, the simulator's default)."""
    declared = [d.replica_gpu_mem_gib for d in deployments if d.replica_gpu_mem_gib]
    wants_gpu = any((d.replica_gpus or 0) > 0 for d in deployments)
    if gpu is None:
        declares = any(d.replica_gpus is not None for d in deployments)
        # no current type: model serving wants a GPU unless the deployments say otherwise
        gpu = bool(current_type.is_gpu) if current_type is not None else (wants_gpu or not declares)
    mem = max(declared) if declared else (0.7 * current_type.gpu_memory_gib if current_type is not None and gpu else 0.0)
    return Need(gpu=bool(gpu), gpu_memory_gib=float(mem))


def fixed_deployments(deployments: list[DeploymentSpec], need: Need) -> list[DeploymentSpec]:
    """The deployments with their footprint pinned (the same model on every candidate type),
    or one made-up deployment that scales freely when there are none."""
    deps = list(deployments) or [DeploymentSpec(max_replicas=DEFAULT_MAX_REPLICAS, name="traffic")]
    if need.gpu:
        return [replace(d, replica_gpu_mem_gib=d.replica_gpu_mem_gib or need.gpu_memory_gib,
                        replica_gpus=d.replica_gpus or 1.0) for d in deps]  # fmt: skip
    return [replace(d, replica_gpus=0.0, replica_gpu_mem_gib=0.0) for d in deps]


def pool_for(it: Any, cand: Candidate, cluster: Any = None) -> PoolSpec:
    """The simulator's PoolSpec of candidate `cand` on instance type `it` (catalog entry)."""
    base = pool_spec_from({"instance_types": [it.to_wire()]}, it, cluster=cluster)
    return base.with_(min_nodes=cand.min_nodes, max_nodes=cand.max_nodes, spot=cand.spot)


def default_max_nodes(peak_rps: float, per_node_rps: float, min_nodes: int) -> tuple[int, ...]:
    """Node ceilings to try: what the peak needs at the target utilisation, and 1.5x, 2x that."""
    need = max(1, math.ceil(peak_rps / max(per_node_rps, 1e-9)))
    return tuple(sorted({max(need, min_nodes, 1), max(math.ceil(1.5 * need), 1), 2 * need}))


def grid(types: list[Any], min_nodes: tuple[int, ...], max_nodes: Callable[[Any], tuple[int, ...]],
         capacity: tuple[str, ...], delays: tuple[float, ...]) -> list[Candidate]:  # fmt: skip
    """Every combination (`max_nodes(type)` gives a type's ceilings), min <= max, spot only
    where the type offers it."""
    out = []
    for it in types:
        combos = itertools.product(min_nodes, max_nodes(it), capacity, delays)
        out += [c for c in (_candidate(it, *x) for x in combos) if c is not None]
    return out


def _candidate(it: Any, lo: int, hi: int, cap: str, delay: float) -> Candidate | None:
    spot = cap == "spot"
    if lo > hi or hi < 1 or (spot and not it.spot_allowed) or (not spot and not it.on_demand_allowed):
        return None
    return Candidate(it.id, int(lo), int(hi), spot, float(delay))
