"""Numbers shown next to an instance type: capacity types, prices, the cost sentence and table.

Display arithmetic only (price x nodes x hours); the simulator owns real cost modelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._base import esc, html_table

if TYPE_CHECKING:
    from compute_widgets.api.models import InstanceType, NodeCapacityType, Nodepool

HOURS_PER_MONTH = 730.0
"""365 * 24 / 12, the month cloud price sheets use."""

SPOT_PRICE_RATIO = 0.45
"""Spot $/h as a fraction of on-demand, used when the catalog has no spot price.

Clarifai's ListInstanceTypes gives one price; reference/autoscaling.md §4 (us-east-1 snapshot)
has spot at about 0.32-0.57 x on-demand for GPU types and 0.43-0.50 x for m8i. 0.45 sits in that
range and equals the simulator's ``SPOT_PRICE_RATIO`` (sim/_specs.py), so the wizard's estimate
and the Planner's simulated cost agree. Spot prices move every few minutes: the widget labels
the figure an estimate.
"""

COLD_START = {True: "~3–5 min for GPU nodes", False: "~2–4 min for CPU nodes"}
"""Node provisioning + image pull + model load (reference/autoscaling.md §1: CA FAQ 3-4 min on GCE)."""


def allowed_types(it: InstanceType | None) -> list[int]:
    """The type's ``allowed_capacity_types`` as ints; [] (all allowed) when unset or no type."""
    act = getattr(it, "allowed_capacity_types", None)
    return [int(t) for t in (act.capacity_types if act is not None else [])]


def capacity(it: InstanceType | None) -> tuple[bool, bool]:
    """(spot allowed, on-demand allowed); an empty ``allowed_capacity_types`` means all allowed."""
    from compute_widgets.api.models import CapacityType

    types = allowed_types(it)
    if not types:
        return True, True
    return CapacityType.SPOT_TYPE in types, CapacityType.ON_DEMAND_TYPE in types


def capacity_types(it: InstanceType | None, spot: bool) -> NodeCapacityType:
    """What a form's spot toggle sends for this type (the rule: NodeCapacityType.for_choice)."""
    from compute_widgets.api.models import NodeCapacityType

    return it.capacity_types_for(spot) if it is not None else NodeCapacityType.for_choice(spot)


def capacity_text(np: Nodepool) -> str:
    """A nodepool's capacity types in words: "spot, on-demand fallback", "spot", "on-demand"."""
    if np.spot:
        return "spot, on-demand fallback" if np.on_demand else "spot"
    return "on-demand"


def od_price(it: Any) -> float | None:
    """On-demand $/h from the catalog (None when unknown)."""
    try:
        return it.price_per_hour
    except Exception:
        return None


def spot_price(it: Any) -> tuple[float | None, bool]:
    """(spot $/h, is_estimate). Uses a catalog spot price when the model carries one."""
    for name in ("spot_price_per_hour", "price_spot"):
        value = getattr(it, name, None)
        if isinstance(value, int | float) and value > 0:
            return float(value), False
    od = od_price(it)
    return (None if od is None else round(od * SPOT_PRICE_RATIO, 4)), True


def money(value: float | None, per: str = "/h") -> str:
    if value is None:
        return "price on request"
    if value == 0:
        return f"$0{per}"
    if value >= 100:
        return f"${value:,.0f}{per}"
    return f"${value:,.2f}{per}"


def accelerator_text(it: Any) -> str:
    ci = it.compute_info
    if ci is None or not ci.num_accelerators:
        return "–"
    kind = ", ".join(ci.accelerator_type) or "accelerator"
    mem = it.gpu_memory_gib
    return f"{ci.num_accelerators}× {kind}" + (f" ({mem:.0f} GiB)" if mem else "")


def range_sentence(it: Any | None, lo: int, hi: int) -> str:
    """The autoscaling-range trade-off in one sentence with this type's numbers."""
    if it is None:
        return "Pick an instance type to see what the range costs."
    od = od_price(it)
    spot_ok, od_ok = capacity(it)
    rate = od if od_ok else spot_price(it)[0]
    cold = COLD_START[bool(it.is_gpu)]
    idle = f"min 0: $0/h when idle, but the first request waits for a node to boot (cold start, {cold})"
    if rate is None:
        warm = "min 1: no cold start, at least one node always running (price on request)"
    else:
        warm = (
            f"min 1: no cold start, at least {money(rate)} "
            f"({money(rate * HOURS_PER_MONTH, '/month')})"
        )
    chosen = f"; max {hi}: at most {money(None if rate is None else rate * hi)}" if hi else ""
    return f"{idle}; {warm}{chosen}."


@dataclass(frozen=True)
class Estimate:
    od: float | None
    spot: float | None
    spot_is_estimate: bool
    lo: int
    hi: int
    use_spot: bool

    def rate(self, spot: bool, n: int) -> float | None:
        price = self.spot if spot else self.od
        return None if price is None else price * n

    @property
    def chosen_per_hour(self) -> tuple[float | None, float | None]:
        return self.rate(self.use_spot, self.lo), self.rate(self.use_spot, self.hi)


def estimate(it: Any, lo: int, hi: int, use_spot: bool) -> Estimate:
    sp, is_est = spot_price(it)
    return Estimate(od_price(it), sp, is_est, lo, hi, use_spot)


def cost_html(it: Any | None, lo: int, hi: int, use_spot: bool) -> str:
    """Per hour and per month at min and at max, spot against on-demand; the chosen row bold."""
    if it is None:
        return ""
    e = estimate(it, lo, hi, use_spot)
    spot_ok, od_ok = capacity(it)

    def cells(spot: bool) -> list[str]:
        return [
            money(e.rate(spot, lo)),
            money(e.rate(spot, hi)),
            money(None if e.rate(spot, lo) is None else e.rate(spot, lo) * HOURS_PER_MONTH, "/mo"),
            money(None if e.rate(spot, hi) is None else e.rate(spot, hi) * HOURS_PER_MONTH, "/mo"),
        ]

    rows, names = [], []
    if od_ok:
        rows.append(["On-demand", *cells(False)])
        names.append(False)
    if spot_ok:
        label = "Spot (estimate)" if e.spot_is_estimate else "Spot"
        rows.append([label, *cells(True)])
        names.append(True)
    highlight = names.index(use_spot) if use_spot in names else None
    table = html_table(
        ["", f"$/h at min ({lo})", f"$/h at max ({hi})", "per month at min", "per month at max"],
        rows,
        highlight=highlight,
        css="cw-cost",
    )
    notes = []
    if spot_ok and od_ok and e.od and e.spot is not None and hi:
        saved = (e.od - e.spot) * hi * HOURS_PER_MONTH
        notes.append(
            f"Spot saves up to {money(saved, '/month')} at max "
            f"({100 * (1 - e.spot / e.od):.0f}% off on-demand) while spot capacity lasts."
        )
    if e.spot_is_estimate and spot_ok and e.spot is not None:
        notes.append(
            f"Spot price estimated as {SPOT_PRICE_RATIO:.0%} of on-demand "
            "(the catalog lists one price; spot prices move every few minutes)."
        )
    return table + "".join(f"<div style='font-size:85%'>{esc(n)}</div>" for n in notes)


def spot_note(it: Any | None) -> str:
    """Why the spot toggle is as it is, for this type."""
    base = (
        "Spot nodes cost less but the cloud can reclaim them at any time (a preempted node's "
        "requests wait for a replacement). If spot capacity is unavailable, Clarifai falls back "
        "to on-demand nodes at the on-demand price."
    )
    if it is None:
        return base
    spot_ok, od_ok = capacity(it)
    if not spot_ok:
        return f"{it.id} is not offered as spot capacity: on-demand only."
    if not od_ok:
        return f"{it.id} is offered as spot capacity only: nodes can be preempted and there is no on-demand fallback."
    return base
