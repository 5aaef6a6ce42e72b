"""The Planner's *Right-size* step (issue 16): a p95 target and a traffic source in, the
engine's recommendation out (Pareto chart + a short table), then *Apply* in two clicks.

A view only: ``rightsize.traffic_from`` and ``rightsize.recommend`` do the work, in the
Planner's runner (one call at a time, a task in a kernel). *Apply* first shows the change as
YAML and as a ``%compute`` command; only the second click (*Confirm*) writes, through the
client: PatchNodepools on this pool, or a new nodepool with the recommended settings.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from compute_widgets.api.models import check_id, parse_duration

from ._ascode import ascode_html, yaml_text
from ._base import esc, field_message, html_table, labelled, set_message, show_figures, took

#: the traffic picker: the pool's own recorded history first, then the engine's patterns
SOURCES = (
    ("Recorded history of this pool", "history"),
    ("Built-in: steady", "steady"),
    ("Built-in: diurnal", "diurnal"),
    ("Built-in: bursty", "bursty"),
    ("Built-in: weekday / weekend", "weekday-weekend"),
)
TABLE_ROWS = 8  # the short table: the front, cheapest first (the chart has every candidate)
# the nodepool fields a patch may carry (read-only ones, as status or node_count, never sent)
WRITABLE = (
    "id", "description", "compute_cluster", "node_capacity_type", "instance_types",
    "min_instances", "max_instances", "visibility", "metadata",
)  # fmt: skip


def target_seconds(text: str) -> float:
    """The target field: `2s`, `800ms`, `1.5` (seconds) -> seconds > 0; ValueError naming it."""
    try:
        value = parse_duration(text.strip().lower())
    except ValueError:
        raise ValueError(f"Target p95: {text!r} is not a latency like 2s, 800ms or 1.5") from None
    if value <= 0:
        raise ValueError(f"Target p95 must be above 0 s, got {text!r}")
    return value


def front_table(rec: Any) -> str:
    """The front (cheapest first, TABLE_ROWS at most), the recommended row highlighted, and a
    line with the current settings' scores."""
    front = rec.front.sort_values("monthly_cost", kind="stable").head(TABLE_ROWS)
    best = rec.best.row if rec.best is not None else None
    rows, chosen = [], None
    for i, (index, r) in enumerate(front.iterrows()):
        if best is not None and index == best.name:
            chosen = i
        rows.append(
            [r["instance_type"], f"{int(r['min_nodes'])}–{int(r['max_nodes'])}",
             "spot" if r["spot"] else "on-demand", f"{float(r['scale_down_delay_s']):,.0f} s",
             f"${float(r['monthly_cost']):,.0f}", f"{float(r['p95_s']):.2f} s",
             "yes" if bool(r["meets_target"]) else "no"]
        )  # fmt: skip
    head = ["Instance type", "Nodes", "Capacity", "Scale-down delay", "$/month", "p95", "Meets"]
    table = html_table(head, rows, highlight=chosen, css="cw-rightsize-front")
    lines = []
    if rec.current is not None:
        c = rec.current.row
        lines.append(
            f"Current settings: ${float(c['monthly_cost']):,.0f}/month, p95 {float(c['p95_s']):.2f} s."
        )
    if rec.best is not None and rec.best.stability:
        s = rec.best.stability
        lines.append(
            f"Recommended, on {len(s['seeds'])} held-out seeds: p95 spread {s['p95_spread_s']:.2f} s, "
            f"meets the target on {sum(s['meets_target'])} of {len(s['seeds'])}."
        )
    elif rec.best is None and rec.binding:
        lines.append(rec.binding)
    return table + "".join(f"<div style='font-size:90%'>{esc(x)}</div>" for x in lines)


def writable(np: Any) -> dict[str, Any]:
    """The pool's wire fields a PatchNodepools may carry."""
    wire = np.to_wire()
    return {k: wire[k] for k in WRITABLE if k in wire}


def merged_autoscale(deployment: Any, change: dict[str, Any]) -> Any:
    """The deployment with `change` ({"autoscale_config": {...}}) merged into its own config:
    PatchDeployments' overwrite replaces a field whole, so the rest of the config goes too."""
    from compute_widgets.api import models as m

    wire = deployment.to_wire()
    config = {**(wire.get("autoscale_config") or {}), **change.get("autoscale_config", {})}
    return m.Deployment.from_wire({**wire, "autoscale_config": config})


class RightsizeStep(W.VBox):
    """The step's widgets; the Planner owns it and lends it its runner, client and pool."""

    def __init__(self, planner: Any) -> None:
        super().__init__()
        self.add_class("cw-rightsize")
        self.planner = planner
        self.recommendation: Any = None
        self.confirming = False  # Apply was pressed once: the change is on screen
        self.applied: Any = None  # the nodepool as the server answered the write

        self.target = W.Text(value="2s", layout=W.Layout(width="90px"))
        self.source = W.Dropdown(options=list(SOURCES), value="history",
                                 layout=W.Layout(width="320px"))  # fmt: skip
        self.scope = W.Dropdown(
            options=[("Any that fits the deployments", "any"), ("Only this pool's type", "same")],
            value="any", layout=W.Layout(width="320px"),
        )  # fmt: skip
        self.msg = field_message()
        self.button = W.Button(description="Recommend", button_style="primary")
        self.button.add_class("cw-recommend")
        self.button.on_click(lambda _b: self.recommend())
        self.table = W.HTML()
        self.chart = W.Output()
        self.chart.add_class("cw-charts")
        self.new_id = W.Text(layout=W.Layout(width="260px"))
        self.new_id_row = labelled("New nodepool ID", self.new_id)
        self.change = W.HTML()
        self.change.add_class("cw-rightsize-change")
        self.apply_button = W.Button(description="Apply…", button_style="warning")
        self.apply_button.add_class("cw-apply")
        self.apply_button.on_click(lambda _b: self.apply())
        self.cancel_button = W.Button(description="Cancel")
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.apply_box = W.VBox(
            [self.new_id_row, self.change, W.HBox([self.apply_button, self.cancel_button])],
            layout=W.Layout(display="none"),
        )
        for w in (self.target, self.source, self.scope):
            w.observe(lambda _c: self.sync(), names="value")
        self.new_id.observe(lambda _c: self.cancel(), names="value")
        self.children = [
            W.HTML("<b>Right-size</b> <span style='font-size:90%'>— the cheapest settings that "
                   "meet a p95 latency target on this pool's traffic</span>"),
            labelled("Target p95 latency", self.target),
            labelled("Traffic", self.source),
            labelled("Instance types", self.scope),
            self.msg,
            W.HBox([self.button]),
            self.table,
            self.chart,
            self.apply_box,
        ]  # fmt: skip

    # --- state ----------------------------------------------------------------------------------
    @property
    def best(self) -> Any:
        return self.recommendation.best if self.recommendation is not None else None

    @property
    def creates(self) -> bool:
        """Apply creates a nodepool (another instance type: a Clarifai nodepool keeps its
        type), else it patches this one."""
        return self.best is not None and not self.best.same_type

    def problem(self) -> str:
        try:
            target_seconds(self.target.value)
        except ValueError as exc:
            return str(exc)
        return ""

    def apply_problem(self) -> str:
        if not self.creates:
            return ""
        new = self.new_id.value.strip()
        return check_id(new, "New nodepool ID") or (
            "New nodepool ID: that is this nodepool's ID; pick another."
            if new == self.planner.nodepool.id
            else ""
        )

    def sync(self) -> None:
        busy, loaded = self.planner.runner.busy, self.planner._loaded
        problem = self.problem() or self.apply_problem()
        set_message(self.msg, problem)
        self.button.disabled = busy or not loaded or bool(self.problem())
        self.apply_box.layout.display = "" if self.best is not None else "none"
        self.new_id_row.layout.display = "" if self.creates else "none"
        # once applied, Apply waits for a new recommendation (the scores were of the old pool)
        self.apply_button.disabled = (
            busy or self.best is None or self.applied is not None or bool(self.apply_problem())
        )
        self.cancel_button.layout.display = "" if self.confirming else "none"
        if self.confirming:
            what = f"create nodepool {self.new_id.value.strip()}" if self.creates else (
                f"patch nodepool {self.planner.nodepool.id}")  # fmt: skip
            self.apply_button.description = f"Confirm: {what}"
        else:
            self.apply_button.description = "Apply…"

    def reset(self) -> None:
        """Forget the last recommendation (the Planner opened another pool)."""
        self.recommendation, self.confirming, self.applied = None, False, None
        self.change.value = self.table.value = ""
        self.chart.outputs = ()
        self.sync()

    # --- recommend ------------------------------------------------------------------------------
    def recommend(self) -> Any:
        """Run the search on the chosen traffic; returns the task (None when run inline)."""
        p = self.planner
        if p.runner.busy or not p._loaded or self.problem():
            return None
        target, source, scope = (
            target_seconds(self.target.value),
            self.source.value,
            self.scope.value,
        )
        # the Planner's "Simulate" window: how much recorded history is replayed, or how long
        # a built-in pattern runs
        span = p.duration.value
        cc, np = p.cluster.id, p.nodepool
        client = p.client
        self.reset()

        def run() -> tuple[Any, Any]:
            from compute_widgets import charts, rightsize

            what = f"{cc}/{np.id}" if source == "history" else source
            traffic = rightsize.traffic_from(what, client=client, range=span)
            types = [np.instance_type_id] if scope == "same" and np.instance_type_id else None
            rec = rightsize.recommend(np, traffic=traffic, target_p95=target, client=client,
                                      instance_types=types)  # fmt: skip
            return rec, charts.pareto_chart(rec, title=f"Right-sizing {cc}/{np.id}")

        def done(result: tuple[Any, Any], seconds: float) -> str:
            rec, figure = result
            self.recommendation = rec
            if rec.best is not None and not rec.best.same_type:
                self.new_id.value = rec.best.target_nodepool_id
            self.confirming = False
            self.table.value = front_table(rec)
            show_figures(self.chart, [figure])
            self.sync()
            n = f"{len(rec.candidates)} candidates, {len(rec.front)} on the front, {took(seconds)}"
            if rec.best is None:
                return f"No candidate meets p95 {target:g} s ({n}): see below what binds"
            return f"Recommended {rec.best.settings} ({n})"

        label = f"{span} of " + (
            "recorded history" if source == "history" else f"the {source} pattern"
        )
        return p.runner.run(run, busy=f"Searching settings for p95 {target:g} s on {label}…",
                            done=done)  # fmt: skip

    # --- apply ----------------------------------------------------------------------------------
    def proposed(self) -> Any:
        """The nodepool the confirmed Apply writes: this one patched, or the new one."""
        from compute_widgets.api import models as m

        np, cc = self.planner.nodepool, self.planner.cluster
        if self.creates:
            fields = self.best.nodepool().to_wire()
            fields["id"] = self.new_id.value.strip()
        else:
            fields = {**writable(np), **self.recommendation.patch()}
        fields["compute_cluster"] = {"id": cc.id, "user_id": cc.user_id}
        return m.Nodepool.from_wire(fields)

    def command(self, target: Any) -> str:
        """The `%compute` equal to Apply, by the engine's one rule (rightsize.apply_command):
        `nodepools create`, `nodepools scale`, or a `%%compute --apply` cell of the YAML."""
        from compute_widgets.rightsize import apply_command

        return apply_command(self.planner.cluster.id, self.planner.nodepool, target,
                             yaml_text(target))  # fmt: skip

    def preview_html(self) -> str:
        """What Apply writes, as the YAML of the nodepool sent and the `%compute` command."""
        np = self.planner.nodepool
        target = self.proposed()
        if self.creates:
            head = (f"Apply creates nodepool <b>{esc(target.id)}</b> ({esc(self.best.settings)}) "
                    f"beside {esc(np.id)}: a nodepool keeps its instance type. The deployments stay "
                    f"on {esc(np.id)} until you move them.")  # fmt: skip
        else:
            changes = [f"{k.replace('_', ' ')}: {_wire_text(np, k)} → {_wire_text(target, k)}"
                       for k in self.recommendation.patch()]  # fmt: skip
            for dep, change in self.recommendation.deployment_patches().items():
                for key, value in change.get("autoscale_config", {}).items():
                    changes.append(f"deployment {dep}: {key.replace('_', ' ')} → {value}")
            head = f"Apply patches nodepool <b>{esc(np.id)}</b>: " + (
                "; ".join(esc(c) for c in changes) or "nothing changes"
            )
        command, yaml = self.command(target), yaml_text(target)
        if "\n" in command:  # a %%compute cell of this YAML: name it once, show the YAML once
            command = command.split("\n", 1)[0] + "   # with the YAML below as the cell"
        return f"<div>{head}</div>" + ascode_html(command, yaml)

    def apply(self) -> Any:
        """First call: show the change (YAML and %compute). Second call: write it."""
        p = self.planner
        if p.runner.busy or self.best is None or self.applied is not None or self.apply_problem():
            return None
        if not self.confirming:
            self.confirming = True
            self.change.value = self.preview_html()
            self.sync()
            return None
        target = self.proposed()
        cc, creates = p.cluster.id, self.creates
        deployments = {} if creates else self.recommendation.deployment_patches()
        client = p.client

        def write() -> tuple[Any, dict[str, Any] | None]:
            if creates:
                return client.create_nodepool(cc, target), None
            np = client.patch_nodepool(cc, target, action="overwrite")
            for dep_id, change in deployments.items():
                client.patch_deployment(merged_autoscale(client.get_deployment(dep_id), change))
            return np, p._fetch((cc, np.id))  # the page shows the pool as it is now

        def done(result: tuple[Any, dict[str, Any] | None], seconds: float) -> str:
            np, page = result
            self.applied, self.confirming = np, False
            self.change.value = ""
            if page is not None:
                p._opened(page, seconds)
            self.sync()
            verb = "Created" if creates else "Patched"
            return (f"{verb} nodepool {np.id}: {np.instance_type_id}, {np.min_instances}–"
                    f"{np.max_instances} nodes, {'spot' if np.spot else 'on-demand'}"
                    + (f"; {len(deployments)} deployment(s) re-tuned" if deployments else "")
                    + f" ({took(seconds)})")  # fmt: skip

        def failed(_exc: BaseException) -> None:
            self.confirming = False
            self.sync()

        verb = "Creating" if creates else "Patching"
        return p.runner.run(write, busy=f"{verb} nodepool {target.id}…", done=done, failed=failed)

    def cancel(self) -> None:
        if self.confirming:
            self.confirming = False
            self.change.value = ""
        self.sync()


def _wire_text(np: Any, key: str) -> str:
    if key == "node_capacity_type":
        return "spot, on-demand fallback" if np.spot else "on-demand"
    return str(np.to_wire().get(key, 0))
