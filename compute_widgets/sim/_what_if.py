"""What-if: a nodepool's current and proposed settings simulated with the same traffic and seed.

`pool_spec_from` is the one translation of an API nodepool (with its instance type and cluster)
into a PoolSpec; the planner widget, `%compute plan` and the local control plane's metrics call
it. sim/ imports nothing of compute_widgets.api, so it reads the objects by their wire names:
anything with ``to_wire()`` (the api models) or a wire dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._run import SimResult, compare, simulate
from ._specs import DeploymentSpec, PoolSpec, Workload


def _wire(obj: Any) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    to_wire = getattr(obj, "to_wire", None)
    if callable(to_wire):
        return to_wire()
    raise TypeError(f"expected an api model or a wire dict, got {type(obj).__name__}")


def pool_spec_from(nodepool: Any, instance_type: Any = None, *, cluster: Any = None, **overrides: Any) -> PoolSpec:
    """The PoolSpec of `nodepool` (an api Nodepool or its wire dict).

    `instance_type`: its catalog entry (specs, prices, cloud); None reads the nodepool's own
    ``instance_types[0]``. `cluster`: its compute cluster, whose cloud decides the cloud's
    behaviour (spot notice); without it the nodepool's or the instance type's cloud is used.
    `overrides`: PoolSpec fields that win over the wire (e.g. the enforced min/max).
    """
    wire = _wire(nodepool)
    if cluster is not None:
        wire["compute_cluster"] = _wire(cluster)
    instance = None if instance_type is None else _wire(instance_type)
    return PoolSpec.from_wire(wire, instance, **overrides)


@dataclass
class WhatIf:
    """Both runs and their KPIs side by side (`compare`: the two, difference and ratio)."""

    current: SimResult
    proposed: SimResult
    kpis: Any  # pandas.DataFrame
    names: tuple[str, str]


def what_if(
    current: PoolSpec,
    proposed: PoolSpec,
    deployments: Iterable[Any] = (),
    *,
    duration: float = 7 * 86400.0,
    seed: int = 0,
    names: tuple[str, str] = ("current", "proposed"),
    on_run: Callable[[str], None] | None = None,
) -> WhatIf:
    """Simulate `current` and `proposed` for `duration` with the same deployments (api
    Deployments, wire dicts or DeploymentSpecs) and seed. An idle pool, with no deployments,
    is planned against the default traffic. `on_run(name)` is called before each run
    (progress)."""
    deps = [d if isinstance(d, DeploymentSpec) else DeploymentSpec.from_wire(_wire(d)) for d in deployments]
    workload = None if deps else Workload()
    runs = []
    for name, pool in zip(names, (current, proposed), strict=True):
        if on_run is not None:
            on_run(name)
        runs.append(simulate(pool, deps, workload, duration=duration, seed=seed))
    return WhatIf(runs[0], runs[1], compare(runs[0], runs[1], names=names), names)
