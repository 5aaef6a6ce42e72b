"""What recommend() returns: the candidates, the front, the choice with its YAML and
`%compute` command, how stable it is on held-out seeds, and what it assumed."""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from compute_widgets.api import html_table
from compute_widgets.api.models import InstanceType, NodeCapacityType, Nodepool

SHOWN = ("instance_type", "min_nodes", "max_nodes", "spot", "scale_down_delay_s", "monthly_cost",
         "p50_s", "p95_s", "p99_s", "minutes_over_target", "cold_start_requests", "spot_interruptions",
         "meets_target")  # fmt: skip


def capacity_types(spot: bool) -> NodeCapacityType:
    """Spot with on-demand fallback ([2, 1]) or on-demand only ([1]): NodeCapacityType's rule."""
    return NodeCapacityType.for_choice(bool(spot))


def settings_text(row: Any) -> str:
    """"g5.xlarge, 1-4 nodes, spot (on-demand fallback), scale-down 300 s"."""
    cap = "spot (on-demand fallback)" if row["spot"] else "on-demand"
    return (f"{row['instance_type']}, {int(row['min_nodes'])}-{int(row['max_nodes'])} nodes, {cap}, "
            f"scale-down {row['scale_down_delay_s']:g} s")  # fmt: skip


def apply_command(cluster_id: str, current: Nodepool | None, target: Nodepool, yaml: str) -> str:
    """The `%compute` that turns nodepool `current` into `target`: the one rule every surface
    shows (the recommendation, the magic's line, the Planner's Apply preview).

    Another instance type (or no current pool): `%compute nodepools create` of a new pool, a
    Clarifai nodepool keeps its type. The same type and capacity: `%compute nodepools scale`,
    only the node range changes. A capacity change: no line verb patches it, so the answer is
    a whole `%%compute --apply` cell with the pool's YAML (it updates the pool in place).
    """
    q = shlex.quote
    cc = q(cluster_id or "CLUSTER")
    lo, hi = target.min_instances, target.max_instances
    if current is None or current.instance_type_id != target.instance_type_id:
        parts = ["%compute nodepools create", cc, q(target.id)]
        if target.instance_type_id:
            parts += ["--instance", q(target.instance_type_id)]
        parts += ["--min", str(lo), "--max", str(hi)]
        if target.spot:  # the inverse of NodeCapacityType.for_choice
            parts.append("--spot" if target.on_demand else "--spot-only")
        if target.description:
            parts += ["--description", q(target.description)]
        return " ".join(parts)
    same_capacity = sorted(current.node_capacity_type.capacity_types) == sorted(
        target.node_capacity_type.capacity_types
    )
    if same_capacity:
        return f"%compute nodepools scale {cc} {q(current.id)} --min {lo} --max {hi}"
    return "%%compute --apply\n" + yaml.rstrip("\n") + "\n"


@dataclass
class Choice:
    """One candidate as a nodepool to apply: its scores (`row`), `yaml`, `command`,
    `stability` on held-out seeds (empty for the current configuration)."""

    row: pd.Series
    cluster_id: str
    nodepool_id: str
    current: Nodepool | None = None
    stability: dict[str, Any] = field(default_factory=dict)
    deployment_ids: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        row = self.__dict__.get("row")
        if row is not None and name in row.index:
            return row[name].item() if hasattr(row[name], "item") else row[name]
        raise AttributeError(name)

    @property
    def settings(self) -> str:
        return settings_text(self.row)

    @property
    def same_type(self) -> bool:
        return self.current is not None and self.current.instance_type_id == self.row["instance_type"]

    @property
    def target_nodepool_id(self) -> str:
        """The nodepool to patch (same instance type) or to create (another type: Clarifai
        nodepools keep their instance type)."""
        if self.current is None and not self.nodepool_id:
            slug = re.sub(r"[^A-Za-z0-9_-]", "-", str(self.row["instance_type"]))
            return f"rightsized-{slug}"[:48]
        if self.current is None or self.same_type:
            return self.nodepool_id
        slug = re.sub(r"[^A-Za-z0-9_-]", "-", str(self.row["instance_type"]))
        return f"{self.nodepool_id}-{slug}"[:48].rstrip("-_")  # a new pool beside the old one

    def nodepool(self) -> Nodepool:
        """The recommended nodepool as an api model (what Apply creates or patches)."""
        return Nodepool(
            id=self.target_nodepool_id,
            description=(self.current.description if self.current is not None and self.same_type else "")
            or f"right-sized: {self.settings}",
            node_capacity_type=capacity_types(bool(self.row["spot"])),
            instance_types=[InstanceType(id=str(self.row["instance_type"]))],
            min_instances=int(self.row["min_nodes"]),
            max_instances=int(self.row["max_nodes"]),
        )

    @property
    def yaml(self) -> str:
        """Clarifai CLI YAML of the nodepool (api.dump_config)."""
        from compute_widgets.api import dump_config

        np_ = self.nodepool()
        if self.cluster_id:
            from compute_widgets.api.models import ComputeCluster

            np_ = np_.model_copy(update={"compute_cluster": ComputeCluster(id=self.cluster_id)})
        return dump_config(np_)

    @property
    def command(self) -> str:
        """What to run in a notebook cell to apply this choice (`apply_command`'s rule)."""
        return apply_command(self.cluster_id, self.current, self.nodepool(), self.yaml)

    def patch(self) -> dict[str, Any]:
        """The nodepool's wire fields that change (all of them for a new nodepool)."""
        np_ = self.nodepool()
        new = {
            "id": np_.id,
            "instance_types": [{"id": np_.instance_type_id}],
            "min_instances": np_.min_instances,
            "max_instances": np_.max_instances,
            "node_capacity_type": {"capacity_types": [int(c) for c in np_.node_capacity_type.capacity_types]},
        }
        if self.current is None or not self.same_type:
            return new
        cur = self.current.to_wire()
        out: dict[str, Any] = {}
        for key in ("min_instances", "max_instances"):
            if cur.get(key, 0) != new[key]:
                out[key] = new[key]
        if sorted(cur.get("node_capacity_type", {}).get("capacity_types", [])) != sorted(
            new["node_capacity_type"]["capacity_types"]
        ):
            out["node_capacity_type"] = new["node_capacity_type"]
        return out

    def deployment_patches(self, current_delays: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
        """deployment id -> AutoscaleConfig fields to change (the scale-down delay, and the
        scale-to-zero delay when it would fall below it, as Clarifai requires)."""
        delay = int(round(float(self.row["scale_down_delay_s"])))
        out = {}
        for dep_id in self.deployment_ids:
            cur = (current_delays or {}).get(dep_id)
            if cur is not None and int(round(cur[0])) == delay:
                continue
            change = {"scale_down_delay_seconds": delay}
            if cur is not None and cur[1] < delay:
                change["scale_to_zero_delay_seconds"] = delay
            out[dep_id] = {"autoscale_config": change}
        return out

    def _repr_html_(self) -> str:
        rows = [(k, _fmt(self.row[k])) for k in SHOWN if k in self.row.index]
        stab = ""
        if self.stability:
            s = self.stability
            stab = (f"<p>Held-out seeds {s['seeds']}: p95 {', '.join(f'{v:.2f}' for v in s['p95_s'])} s "
                    f"(spread {s['p95_spread_s']:.2f} s); meets the target on "
                    f"{sum(s['meets_target'])} of {len(s['seeds'])}.</p>")  # fmt: skip
        command = self.command
        code = f"<pre>{html.escape(command)}</pre>"
        if not command.startswith("%%compute"):  # a cell holds the YAML already
            code += f"<pre>{html.escape(self.yaml)}</pre>"
        return html_table(["setting", "value"], rows) + stab + code + self._delay_note()

    def _delay_note(self) -> str:
        """The scale-down delay is the deployments' setting, not the pool's: the command above
        changes the pool only (the Planner's Apply sets both)."""
        if not self.deployment_ids:
            return ""
        delay = float(self.row["scale_down_delay_s"])
        return (f"<p>Scale-down delay {delay:g} s is set on the deployments "
                f"({html.escape(', '.join(self.deployment_ids))}), in their autoscale_config: "
                f"the command changes the nodepool only.</p>")  # fmt: skip


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or (hasattr(v, "dtype") and v.dtype == bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


@dataclass
class Recommendation:
    """The search's answer. `candidates`: one row per simulated candidate (DataFrame);
    `front`: the Pareto front of monthly_cost vs p95_s, by cost; `best`: the cheapest candidate
    meeting the target (a Choice, or None); `current`: the current nodepool's scores (a Choice,
    or None); `binding`: when nothing meets the target, what binds and by how much the closest
    misses; `assumptions`: the figures the simulation took; `pruned`: instance types left out
    before simulating, and why."""

    candidates: pd.DataFrame
    front: pd.DataFrame
    best: Choice | None
    current: Choice | None
    target_p95_s: float
    binding: str
    assumptions: dict[str, Any]
    traffic: Any
    pruned: pd.DataFrame
    current_delays: dict[str, tuple[float, float]] = field(default_factory=dict)

    def patch(self) -> dict[str, Any]:
        """The nodepool fields to change for the best candidate, in wire form ({} when
        nothing meets the target or nothing changes)."""
        return self.best.patch() if self.best is not None else {}

    def deployment_patches(self) -> dict[str, dict[str, Any]]:
        """deployment id -> autoscale fields to change for the best candidate."""
        return self.best.deployment_patches(self.current_delays) if self.best is not None else {}

    @property
    def summary(self) -> str:
        """One line: what to do and what it buys (or what binds)."""
        if self.best is None:
            return self.binding
        b = self.best
        line = (f"{b.settings}: ${b.row['monthly_cost']:,.0f}/month, p95 {b.row['p95_s']:.2f} s "
                f"(target {self.target_p95_s:g} s)")  # fmt: skip
        if self.current is not None:
            c = self.current.row
            line += f"; now ${c['monthly_cost']:,.0f}/month, p95 {c['p95_s']:.2f} s"
        return line

    def __repr__(self) -> str:
        return (f"Recommendation({len(self.candidates)} candidates, front {len(self.front)}, "
                f"target p95 {self.target_p95_s:g} s: {self.summary})")  # fmt: skip

    def _repr_html_(self) -> str:
        head = f"<b>Right-sizing</b>: {html.escape(self.summary)}<br>"
        head += (f"{len(self.candidates)} candidates simulated over {html.escape(str(self.traffic))}; "
                 f"{len(self.front)} on the cost / p95 front.")  # fmt: skip
        cols = [c for c in SHOWN if c in self.front.columns]
        front = html_table(cols, [[_fmt(r[c]) for c in cols] for _, r in self.front.iterrows()])
        best = self.best._repr_html_() if self.best is not None else f"<p>{html.escape(self.binding)}</p>"
        return f"<div>{head}<h4>Recommended</h4>{best}<h4>Front</h4>{front}</div>"
