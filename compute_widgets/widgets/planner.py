"""Planner: what-if for a nodepool — simulate a proposed range / spot / instance type before paying —
and its *Right-size* step (widgets/_rightsize.py): the cheapest settings meeting a p95 target.

The simulation (compute_widgets.sim) runs in the executor through the widget's Runner, so the
kernel stays responsive; the result is ``charts.compare`` of current vs proposed and the KPI
table of ``sim.compare``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from compute_widgets.api.models import parse_duration

from . import _cost
from ._base import (
    ViewBase,
    esc,
    field_message,
    labelled,
    resolve_client,
    set_message,
    show_figures,
    took,
)
from ._rightsize import RightsizeStep
from .wizard import _nodepool_ref

if TYPE_CHECKING:
    from compute_widgets.api.client import ComputeClient

__all__ = ["Planner"]

DURATIONS = {"1 day": "1d", "7 days": "7d"}


def _np_key(np: Any) -> str:
    cc = np.compute_cluster.id if np.compute_cluster is not None else ""
    return f"{cc}/{np.id}"


class Planner(ViewBase):
    """What-if for ``nodepool`` (a Nodepool, ``(cluster_id, nodepool_id)``, "cc/np", or None to pick one)."""

    def __init__(
        self,
        nodepool: Any = None,
        client: ComputeClient | None = None,
        *,
        duration: str = "7d",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.add_class("cw-planner")
        self.client = resolve_client(client)
        self.seed = seed
        self.cluster: Any = None
        self.nodepool: Any = None
        self.types: dict[str, Any] = {}
        self.deployments: list[Any] = []
        self.current: Any = None
        self.proposed: Any = None
        self.kpis: Any = None
        self.figure: Any = None
        self.problems: list[Any] = []
        self._loaded = False

        self.pool_picker = W.Dropdown(options=[], layout=W.Layout(width="320px"))
        self.pool_picker.observe(self._on_pick, names="value")
        self.current_text = W.HTML()
        self.instance_type = W.Dropdown(options=[], layout=W.Layout(width="420px"))
        self.min_nodes = W.BoundedIntText(value=0, min=0, max=1000, layout=W.Layout(width="90px"))
        self.max_nodes = W.BoundedIntText(value=1, min=0, max=1000, layout=W.Layout(width="90px"))
        # min above max: shown in self.msg with the action disabled, never moved (issue 13)
        self.spot = W.Checkbox(value=False, description="Use spot instances", indent=False)
        self.duration = W.Dropdown(
            options=list(DURATIONS.items()),
            value=duration if duration in DURATIONS.values() else "7d",
            layout=W.Layout(width="120px"),
        )
        self.msg = field_message()
        self.cost_hint = W.HTML()
        self.action = W.Button(description="Simulate", button_style="primary")
        self.action.add_class("cw-action")
        self.action.on_click(lambda _b: self.simulate())
        self.kpi_table = W.HTML()
        self.kpi_table.add_class("cw-kpis")
        self.chart = W.Output()
        self.chart.add_class("cw-charts")
        for w in (self.instance_type, self.min_nodes, self.max_nodes, self.spot):
            w.observe(self._on_field, names="value")
        self.rightsize = RightsizeStep(self)  # the Right-size step (issue 16)

        rows: list[W.Widget] = [W.HTML("<h3 style='margin:4px 0'>What-if planner</h3>")]
        if nodepool is None:
            rows.append(labelled("Nodepool", self.pool_picker))
        rows += [
            self.current_text,
            W.HTML("<b>Proposed</b>"),
            labelled("Instance type", self.instance_type),
            labelled("Node range", self.min_nodes, W.HTML("&nbsp;to&nbsp;"), self.max_nodes),
            self.spot,
            labelled("Simulate", self.duration),
            self.msg,
            self.cost_hint,
            W.HBox([self.action]),
            self.status,
            self.kpi_table,
            self.chart,
            self.rightsize,
        ]
        self.children = rows
        if nodepool is None:
            self.runner.run(
                lambda: list(self.client.list_nodepools()),
                busy="Loading nodepools…",
                done=self._pools_loaded,
            )
        else:
            self._open(nodepool)
        self._sync_buttons()

    # --- loading --------------------------------------------------------------------------------
    def _pools_loaded(self, pools: list[Any], seconds: float) -> str:
        self.pool_picker.options = [(_np_key(p), _np_key(p)) for p in pools]
        self.pool_picker.value = None
        return (
            f"{len(pools)} nodepools: pick one ({took(seconds)})"
            if pools
            else "No nodepools yet: create one first."
        )

    def _on_pick(self, change: dict) -> None:
        if change["new"]:
            self._open(change["new"])

    def _open(self, nodepool: Any) -> None:
        np_id = _nodepool_ref(nodepool)[1]
        self.runner.run(self._fetch, nodepool, busy=f"Loading nodepool {np_id}…", done=self._opened)

    def _fetch(self, nodepool: Any) -> dict[str, Any]:
        """Everything the page shows of a nodepool (runs in the executor)."""
        cc, np_id = _nodepool_ref(nodepool)
        given = None if isinstance(nodepool, str | tuple) else nodepool
        cluster = self.client.get_cluster(cc)
        np = self.client.get_nodepool(cc, np_id) if given is None else given
        provider = getattr(cluster.cloud_provider, "id", "") or "all"
        types = list(self.client.list_instance_types(provider, cluster.region or "all"))
        deployments = list(self.client.list_deployments(nodepool_id=np_id, compute_cluster_id=cc))
        return {"cluster": cluster, "nodepool": np, "types": types, "deployments": deployments}

    def _opened(self, data: dict[str, Any], seconds: float) -> str:
        if self.nodepool is None or _np_key(self.nodepool) != _np_key(data["nodepool"]):
            self.rightsize.reset()  # another pool: the last recommendation was not for it
        self.cluster, self.nodepool = data["cluster"], data["nodepool"]
        self.types = {t.id: t for t in data["types"]}
        self.deployments = data["deployments"]
        np = self.nodepool
        if np.instance_type_id and np.instance_type_id not in self.types and np.instance_types:
            self.types[np.instance_type_id] = np.instance_types[0]
        options = sorted(self.types.values(), key=lambda t: (_cost.od_price(t) or 0, t.id))
        self.instance_type.options = [
            (f"{t.id} — {_cost.accelerator_text(t)} · {_cost.money(_cost.od_price(t))}", t.id)
            for t in options
        ]
        with self.hold_trait_notifications():
            self.instance_type.value = (
                np.instance_type_id if np.instance_type_id in self.types else None
            )
            self.max_nodes.value = max(np.max_instances, self.min_nodes.value)
            self.min_nodes.value = np.min_instances
            self.max_nodes.value = np.max_instances
            self.spot.value = bool(np.spot)
        deps = (
            ", ".join(d.id for d in self.deployments)
            or "none (a default diurnal workload is simulated)"
        )
        self.current_text.value = (
            f"<b>Current</b>: {esc(_np_key(np))} — {esc(np.instance_type_id)}, "
            f"{np.min_instances} to {np.max_instances} nodes, {'spot' if np.spot else 'on-demand'}; "
            f"deployments: {esc(deps)}"
        )
        self._loaded = True
        self._on_field()
        return f"Loaded nodepool {np.id} ({took(seconds)})"

    # --- the proposal ---------------------------------------------------------------------------
    def proposed_nodepool(self) -> Any:
        """The nodepool with the proposed settings (a copy; nothing is saved)."""
        t = self.types.get(self.instance_type.value)
        return self.nodepool.model_copy(
            update={
                "min_instances": int(self.min_nodes.value),
                "max_instances": int(self.max_nodes.value),
                "node_capacity_type": _cost.capacity_types(t, self.spot.value),
                "instance_types": [t] if t is not None else [],
            }
        )

    def _on_field(self, _change: dict | None = None) -> None:
        if not self._loaded:
            return
        t = self.types.get(self.instance_type.value)
        spot_ok, od_ok = _cost.capacity(t) if t is not None else (True, True)
        if t is not None and not spot_ok and self.spot.value:
            self.spot.value = False
        if t is not None and not od_ok and not self.spot.value:
            self.spot.value = True
        self.spot.disabled = t is not None and (not spot_ok or not od_ok)
        self.problems = self.proposed_nodepool().problems()
        set_message(self.msg, " ".join(p.message for p in self.problems))
        self.cost_hint.value = _cost.cost_html(
            t, self.min_nodes.value, self.max_nodes.value, self.spot.value
        )
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        if hasattr(self, "action"):
            self.action.disabled = self.runner.busy or not self._loaded or bool(self.problems)
        if hasattr(self, "pool_picker"):
            self.pool_picker.disabled = self.runner.busy
        if hasattr(self, "rightsize"):
            self.rightsize.sync()

    # --- simulate -------------------------------------------------------------------------------
    def simulate(self) -> Any:
        """Simulate current and proposed settings; returns the task (or None when run inline)."""
        if self.runner.busy or not self._loaded or self.problems:
            return None
        current, proposed = self.nodepool, self.proposed_nodepool()
        cluster = self.cluster
        deployments = list(self.deployments)
        duration, seed = self.duration.value, self.seed

        def run() -> tuple[Any, Any, Any, Any]:
            from compute_widgets import charts, sim

            def pool(np: Any) -> Any:  # the catalog's entry of its type (None: the pool's own)
                return sim.pool_spec_from(np, self.types.get(np.instance_type_id), cluster=cluster)

            span = parse_duration(duration)  # "1d", "7d": the one duration grammar
            w = sim.what_if(pool(current), pool(proposed), deployments, duration=span, seed=seed)
            a, b = w.current, w.proposed
            note = charts.unchanged_note(a.history, a.kpis, b.kpis, proposed)
            kpis = charts.kpi_table(w.kpis, note)
            # one KPI table (HTML, formatted): the figure has none of its own
            return a, b, kpis, charts.compare(a, b, names=w.names, table=False)

        def done(result: tuple[Any, Any, Any, Any], seconds: float) -> str:
            self.current, self.proposed, self.kpis, self.figure = result
            self.kpi_table.value = self.kpis._repr_html_()
            show_figures(self.chart, [self.figure])
            label = {v: k for k, v in DURATIONS.items()}.get(duration, duration)
            return f"Simulated {label} of current and proposed settings in {took(seconds)}"

        from compute_widgets import _warm

        busy = f"Simulating {duration} of current and proposed settings…"
        if not _warm.ready():  # numba's first compile in this install: say why it waits
            busy += f" {_warm.COMPILING}"
        return self.runner.run(run, busy=busy, done=done)

    def click(self) -> None:
        """Press "Simulate"."""
        self.action.click()

    # --- right-size -----------------------------------------------------------------------------
    def recommend(self, target_p95: str | None = None, traffic: str | None = None) -> Any:
        """Press *Recommend* (after setting the target, e.g. "2s", and the traffic source:
        "history" or a pattern); returns the task (None when run inline)."""
        if target_p95 is not None:
            self.rightsize.target.value = target_p95
        if traffic is not None:
            self.rightsize.source.value = traffic
        return self.rightsize.recommend()

    def apply(self) -> Any:
        """Press *Apply* (the first press shows the change, the second writes it)."""
        return self.rightsize.apply()

    @property
    def recommendation(self) -> Any:
        """The last right-sizing result (rightsize.Recommendation), or None."""
        return self.rightsize.recommendation

    # --- representations ------------------------------------------------------------------------
    def _text(self) -> str:
        state = f" — {self.status.text}" if self.status.text else ""
        if self.nodepool is None:
            return f"Planner (no nodepool chosen){state}"
        head = (
            f"Planner for {_np_key(self.nodepool)}: proposed {self.instance_type.value}, "
            f"{self.min_nodes.value}-{self.max_nodes.value} nodes, spot={self.spot.value}{state}"
        )
        if self.kpis is not None:
            head += "\n" + repr(self.kpis)
        if self.recommendation is not None:
            head += f"\nRight-size (target p95 {self.recommendation.target_p95_s:g} s): "
            head += self.recommendation.summary
        return head

    def _html(self) -> str:
        head = esc(self._text().splitlines()[0])
        return (
            f"<div class='cw-planner'><b>{head}</b>{self.kpi_table.value}"
            f"{self.rightsize.table.value}</div>"
        )
