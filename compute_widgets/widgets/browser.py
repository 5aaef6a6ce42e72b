"""ComputeBrowser: clusters -> a cluster's page -> a nodepool's page, with edit, delete and charts.

A thin view: every button calls one public method (``open_cluster``, ``open_nodepool``,
``refresh``, ``save_nodepool``, ``delete_nodepool``, ...) that runs one loading or changing job
through the widget's :class:`~._base.Runner` and then redraws the page.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import traitlets

from compute_widgets.api import enum_label, plural, provider_label

from . import _cost
from ._base import (
    ViewBase,
    esc,
    field_message,
    html_table,
    labelled,
    one_line,
    resolve_client,
    set_message,
    show_figures,
    took,
)
from ._words import NODEPOOL_WORDS, in_words
from .wizard import ClusterWizard, DeploymentWizard, NodepoolWizard

if TYPE_CHECKING:
    from compute_widgets.api.client import ComputeClient

__all__ = ["ComputeBrowser"]

HISTORY_WINDOW = dt.timedelta(hours=24)
"""How much history the nodepool page charts (5-minute resolution: 288 points)."""

CHART_WIDTH_PX = 700
"""The width the page's charts are drawn at, at least (plotly's own default width)."""

SHARED_CLUSTER_NOTE = (
    "Clarifai's default shared (serverless) compute: Clarifai's own models run here with no "
    "setup and scale automatically. Your own models need a dedicated cluster."
)


class RightsizeHint(ViewBase):
    """The nodepool page's one line from ``rightsize.provisioning_hint`` (issue 16): over- or
    under-provisioned by its recorded history, with the saving or the latency it would buy.

    It runs on its own runner after the page is shown (the page never waits for it) and stays
    empty when the history says nothing or the hint cannot be computed: a nicety, not a
    feature, so a failure is kept in ``error`` and never shown as an error line.
    """

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client
        self.line = W.HTML()
        self.line.add_class("cw-rightsize-hint")
        self.children = [self.line]
        self.text: str | None = None
        self.error = ""
        self.key: tuple[str, str] | None = None  # the pool on screen
        self._started: tuple[str, str] | None = None  # the pool of the last call started

    def clear(self) -> None:
        self.key, self.text, self.error, self.line.value = None, None, "", ""

    def load(self, cluster_id: str, nodepool_id: str) -> Any:
        """Compute the hint of a nodepool (a task in a kernel: the page is already shown)."""
        self.clear()
        self.key = (cluster_id, nodepool_id)
        return self._start()

    def _start(self) -> Any:
        if self.runner.busy or self.key is None:  # the call in flight restarts it when over
            return None
        self._started = key = self.key

        def hint() -> str | None:
            from compute_widgets.rightsize import provisioning_hint

            return provisioning_hint(self.client, *key)

        def done(text: str | None, _seconds: float) -> None:
            if self.key == key:  # the user may have moved to another page meanwhile
                self.show(text)

        def failed(exc: BaseException) -> None:
            if self.key == key:
                self.error = one_line(exc)

        return self.runner.run(hint, busy="", done=done, failed=failed)

    def _sync_buttons(self) -> None:
        # called when a call ends: another pool was opened meanwhile -> compute its hint now
        if not self.runner.busy and self.key is not None and self._started != self.key:
            self._start()

    def show(self, text: str | None) -> None:
        self.text = text
        self.line.value = (
            f"<span style='font-size:95%'>💡 {esc(text)} — <i>Planner → Right-size</i> or "
            f"<code>%compute recommend {esc(' '.join(self.key or ()))}</code></span>"
            if text
            else ""
        )


def _status_text(np: Any) -> str:
    name = enum_label(np.status) or "unknown"
    return name + (f" ({np.status_description})" if np.status_description else "")


CLOCK_NOTE_AFTER = dt.timedelta(minutes=1)
"""Below this the local clock is "now" enough; above it, dates would look like the future."""


def clock_note(ahead: dt.timedelta) -> str:
    """ "Simulated clock is 3 days ahead of real time: …" ("" when it is not ahead)."""
    secs = ahead.total_seconds()
    if ahead < CLOCK_NOTE_AFTER:
        return ""
    if secs >= 86400:
        n, unit = round(secs / 86400, 1), "day"
    elif secs >= 3600:
        n, unit = round(secs / 3600, 1), "hour"
    else:
        n, unit = round(secs / 60), "minute"
    n = int(n) if n == int(n) else n
    return (
        f"Simulated clock is {plural(n, unit) if isinstance(n, int) else f'{n} {unit}s'} ahead "
        "of real time (a tutorial fast-forwarded it): created dates and charts use that clock."
    )


def _model_text(d: Any) -> str:
    m = d.worker.model if d.worker is not None else None
    if m is None:
        return "–"
    ref = "/".join(x for x in (m.user_id, m.app_id, m.id) if x)
    return ref + (
        f" @ {m.model_version.id}" if m.model_version is not None and m.model_version.id else ""
    )


def _cell(text: Any, width: str = "auto") -> W.HTML:
    return W.HTML(esc(text), layout=W.Layout(width=width))


def _grid(headers: list[str], rows: list[list[W.Widget]], widths: str) -> W.GridBox:
    head = [W.HTML(f"<b>{esc(h)}</b>") for h in headers]
    cells = head + [c for row in rows for c in row]
    return W.GridBox(cells, layout=W.Layout(grid_template_columns=widths, grid_gap="0 8px"))


def _open_button(label: str, tooltip: str, callback: Any) -> W.Button:
    b = W.Button(description=label, tooltip=tooltip, layout=W.Layout(width="auto"))
    b.add_class("cw-open")
    b.on_click(lambda _b: callback())
    return b


class ComputeBrowser(ViewBase):
    """Browse and manage clusters, nodepools and deployments."""

    page = traitlets.Unicode("clusters", help="clusters | cluster | nodepool")

    def __init__(
        self, client: ComputeClient | None = None, *, nodepool: tuple[str, str] | None = None
    ) -> None:
        """``nodepool=(cluster_id, nodepool_id)`` opens at that nodepool's page."""
        super().__init__()
        self.add_class("cw-browser")
        self.client = resolve_client(client)
        self.clusters: list[Any] = []
        self.all_nodepools: list[Any] = []
        self.cluster: Any = None
        self.nodepools: list[Any] = []
        self.cluster_deployments: list[Any] = []
        self.nodepool: Any = None
        self.deployments: list[Any] = []
        self.history: Any = None
        self.events: Any = None
        self.figures: dict[str, Any] = {}
        self.wizard: ViewBase | None = None
        self.clock_ahead = dt.timedelta(0)  # how far the local clock was fast-forwarded
        self._server_warm = False  # the control plane's simulator is compiled (seen once)
        self.clock_note = W.HTML()
        self.clock_note.add_class("cw-clock-note")

        self.breadcrumb = W.HBox([])
        self.breadcrumb.add_class("cw-breadcrumb")
        self.refresh_button = W.Button(
            description="Refresh", icon="refresh", layout=W.Layout(width="auto")
        )
        self.refresh_button.add_class("cw-refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())

        # clusters page
        self.clusters_box = W.VBox([])
        self.new_cluster_button = W.Button(
            description="Create a new cluster", layout=W.Layout(width="auto")
        )
        self.new_cluster_button.on_click(lambda _b: self.show_cluster_wizard())
        self.clusters_wizard_area = W.VBox([])
        self.clusters_page = W.VBox(
            [W.HTML("<h3 style='margin:4px 0'>Compute clusters</h3>"), self.clusters_box,
             W.HBox([self.new_cluster_button]), self.clusters_wizard_area]
        )  # fmt: skip

        # cluster page
        self.cluster_info = W.HTML()
        self.nodepools_box = W.VBox([])
        self.new_nodepool_button = W.Button(
            description="Create a new nodepool", layout=W.Layout(width="auto")
        )
        self.new_nodepool_button.add_class("cw-new-nodepool")
        self.new_nodepool_button.on_click(lambda _b: self.show_nodepool_wizard())
        self.delete_cluster_button = W.Button(
            description="Delete cluster…", button_style="danger", layout=W.Layout(width="auto")
        )
        self.delete_cluster_button.on_click(lambda _b: self._ask_delete("cluster"))
        self.cluster_wizard_area = W.VBox([])
        self.cluster_confirm = W.VBox([])
        self.cluster_page = W.VBox(
            [self.cluster_info, W.HTML("<b>Nodepools</b>"), self.nodepools_box,
             W.HBox([self.new_nodepool_button, self.delete_cluster_button]),
             self.cluster_confirm, self.cluster_wizard_area]
        )  # fmt: skip

        # nodepool page
        self.nodepool_info = W.HTML()
        self.deployments_table = W.HTML()
        self.edit_min = W.BoundedIntText(min=0, max=1000, layout=W.Layout(width="90px"))
        self.edit_max = W.BoundedIntText(min=0, max=1000, layout=W.Layout(width="90px"))
        self.edit_spot = W.Checkbox(description="Use spot instances", indent=False)
        self.edit_msg = field_message()
        self.save_button = W.Button(
            description="Save", button_style="primary", layout=W.Layout(width="auto")
        )
        self.save_button.add_class("cw-save")
        self.save_button.on_click(lambda _b: self.save_nodepool())
        for w in (self.edit_min, self.edit_max, self.edit_spot):
            w.observe(lambda _c: self._sync_buttons(), names="value")

        # min above max: a message beside the fields and Save disabled; nothing moves by itself
        self.deploy_button = W.Button(description="Deploy a model", layout=W.Layout(width="auto"))
        self.deploy_button.on_click(lambda _b: self.show_deployment_wizard())
        self.delete_nodepool_button = W.Button(
            description="Delete nodepool…", button_style="danger", layout=W.Layout(width="auto")
        )
        self.delete_nodepool_button.on_click(lambda _b: self._ask_delete("nodepool"))
        self.nodepool_confirm = W.VBox([])
        self.nodepool_wizard_area = W.VBox([])
        # a new pool's charts would be two empty figures: one line of words instead
        self.chart_note = W.HTML()
        self.chart_note.add_class("cw-chart-note")
        # at least the figures' 700 px: plotly sizes a figure to its container once, when it is
        # drawn, and a content-sized container (the page's widest row, ~400 px) shrank it
        self.charts = W.Output(layout=W.Layout(width="100%", min_width=f"{CHART_WIDTH_PX}px"))
        self.charts.add_class("cw-charts")
        self.hint = RightsizeHint(self.client)
        self.nodepool_page = W.VBox(
            [
                self.nodepool_info,
                self.hint,
                W.HTML("<b>Edit autoscaling</b>"),
                labelled("Node range", self.edit_min, W.HTML("&nbsp;to&nbsp;"), self.edit_max),
                self.edit_spot,
                self.edit_msg,
                W.HBox([self.save_button, self.deploy_button, self.delete_nodepool_button]),
                self.nodepool_confirm,
                self.nodepool_wizard_area,
                W.HTML("<b>Deployments</b>"),
                self.deployments_table,
                W.HTML("<b>Utilization and scaling history</b>"),
                self.chart_note,
                self.charts,
            ]
        )

        self.pages = W.Stack(
            [self.clusters_page, self.cluster_page, self.nodepool_page], selected_index=0
        )
        self.children = [
            W.HBox([self.breadcrumb, self.refresh_button]),
            self.clock_note,
            self.status,
            self.pages,
        ]
        self._render_breadcrumb()
        if nodepool is not None:
            self.open_nodepool(*nodepool)
        else:
            self.open_clusters()

    # --- navigation -----------------------------------------------------------------------------
    @traitlets.observe("page")
    def _on_page(self, change: dict) -> None:
        self.pages.selected_index = ["clusters", "cluster", "nodepool"].index(change["new"])
        self._render_breadcrumb()

    def _render_breadcrumb(self) -> None:
        crumbs: list[W.Widget] = []

        def crumb(label: str, go: Any, current: bool) -> W.Widget:
            if current:
                return W.HTML(f"<b>{esc(label)}</b>")
            b = W.Button(description=label, layout=W.Layout(width="auto"))
            b.add_class("cw-crumb")
            b.on_click(lambda _b: go())
            return b

        crumbs.append(crumb("Clusters", self.open_clusters, self.page == "clusters"))
        if self.page in ("cluster", "nodepool") and self.cluster is not None:
            crumbs.append(W.HTML("&nbsp;›&nbsp;"))
            cc = self.cluster.id
            crumbs.append(crumb(cc, lambda: self.open_cluster(cc), self.page == "cluster"))
        if self.page == "nodepool" and self.nodepool is not None:
            crumbs.append(W.HTML("&nbsp;›&nbsp;"))
            crumbs.append(crumb(self.nodepool.id, lambda: None, True))
        self.breadcrumb.children = crumbs

    def open_clusters(self) -> Any:
        """Show the clusters table (loads it)."""
        return self.runner.run(
            self._load_clusters, busy="Loading clusters…", done=self._show_clusters
        )

    def open_cluster(self, cluster_id: str) -> Any:
        """Show a cluster's page (loads it)."""
        return self.runner.run(
            self._load_cluster,
            cluster_id,
            busy=f"Loading cluster {cluster_id}…",
            done=self._show_cluster,
        )

    def open_nodepool(self, cluster_id: str, nodepool_id: str) -> Any:
        """Show a nodepool's page (loads it, its deployments, history and charts)."""
        return self.runner.run(
            self._load_nodepool, cluster_id, nodepool_id,
            busy=f"Loading nodepool {nodepool_id}…{self._compiling_note()}",
            done=self._show_nodepool,
        )  # fmt: skip

    def _compiling_note(self) -> str:
        """ " (the control plane is compiling …)" while a local plane's first history waits for
        numba's compile (after an install), else ""."""
        if self._server_warm or self.runner.busy:
            return ""
        from compute_widgets import _warm

        warm = _warm.server_warm(self.client)
        self._server_warm = warm is not False  # asked until it says warm (or cannot say)
        return "" if self._server_warm else f" ({_warm.SERVER_COMPILING})"

    def refresh(self) -> Any:
        """Reload the page on screen."""
        if self.page == "cluster" and self.cluster is not None:
            return self.open_cluster(self.cluster.id)
        if self.page == "nodepool" and self.nodepool is not None:
            return self.open_nodepool(self.cluster.id, self.nodepool.id)
        return self.open_clusters()

    def _subviews(self) -> list[ViewBase]:
        # not the hint: wait() is "the page is shown", and the hint's first search compiles the
        # batch kernel once per install (~15 s); `await browser.hint.wait()` waits for it
        return [self.wizard] if self.wizard is not None else []

    def _sync_buttons(self) -> None:
        busy = self.runner.busy
        shared = self.cluster is not None and self.cluster.cluster_type == "shared"
        self.refresh_button.disabled = busy
        self.delete_nodepool_button.disabled = busy or shared
        self.delete_cluster_button.disabled = busy or shared  # Clarifai's, not the user's
        self.new_nodepool_button.disabled = shared
        problems = self._edit_problems() if self.nodepool is not None else []
        set_message(self.edit_msg, " ".join(in_words(p.message, NODEPOOL_WORDS) for p in problems))
        self.save_button.disabled = (
            busy or self.nodepool is None or bool(problems) or not self._edited()
        )

    # --- clusters -------------------------------------------------------------------------------
    def _measure_clock(self) -> None:
        """How far the local control plane's clock was fast-forwarded (tutorials do)."""
        try:
            self.clock_ahead = dt.timedelta(seconds=float(self.client.clock_offset()))
        except Exception:  # a note, not a feature: no note when the clock cannot be read
            self.clock_ahead = dt.timedelta(0)

    def _render_clock_note(self) -> None:
        note = clock_note(self.clock_ahead)
        value = f"<span style='font-size:90%'>🕒 {esc(note)}</span>" if note else ""
        if self.clock_note.value != value:
            self.clock_note.value = value

    def _load_clusters(self) -> tuple[list[Any], list[Any]]:
        self._measure_clock()
        clusters = list(self.client.list_clusters())
        try:
            nodepools = list(self.client.list_nodepools())
        except Exception:  # counts are a nicety; the table still shows without them
            nodepools = []
        return clusters, nodepools

    def _show_clusters(self, result: tuple[list[Any], list[Any]], seconds: float) -> str:
        self.clusters, self.all_nodepools = result
        counts: dict[str, int] = {}
        for np in self.all_nodepools:
            cc = np.compute_cluster.id if np.compute_cluster is not None else ""
            counts[cc] = counts.get(cc, 0) + 1
        rows = []
        for cc in self.clusters:
            rows.append(
                [
                    _open_button(
                        cc.id, f"Open cluster {cc.id}", lambda cid=cc.id: self.open_cluster(cid)
                    ),
                    _cell(
                        (cc.description or "")
                        + (f" — {SHARED_CLUSTER_NOTE}" if cc.cluster_type == "shared" else "")
                    ),
                    _cell(provider_label(cc.cloud_provider) or "–"),
                    _cell(cc.region or "–"),
                    _cell(cc.cluster_type or "dedicated"),
                    _cell(counts.get(cc.id, 0) if self.all_nodepools or not counts else "?"),
                ]
            )
        if not any(cc.cluster_type == "shared" for cc in self.clusters):
            rows.insert(
                0,
                [
                    W.HTML("<i>default shared</i>"),
                    W.HTML(f"<span style='font-size:90%'>{esc(SHARED_CLUSTER_NOTE)}</span>"),
                    _cell("Clarifai"),
                    _cell("–"),
                    _cell("shared"),
                    _cell("–"),
                ],
            )
        self.clusters_box.children = [
            _grid(["Cluster", "Description", "Provider", "Region", "Type", "Nodepools"], rows,
                  "max-content minmax(120px, 2fr) max-content max-content max-content max-content")
        ]  # fmt: skip
        self.cluster = self.nodepool = None
        self.page = "clusters"
        self._render_breadcrumb()
        self._render_clock_note()
        return f"{plural(len(self.clusters), 'cluster')} ({took(seconds)})"

    def show_cluster_wizard(self) -> ClusterWizard:
        """Open the cluster wizard under the clusters table."""
        self.wizard = ClusterWizard(self.client)
        self.clusters_wizard_area.children = [self.wizard]
        return self.wizard

    # --- one cluster ----------------------------------------------------------------------------
    def _load_cluster(self, cluster_id: str) -> tuple[Any, list[Any], list[Any]]:
        self._measure_clock()
        cluster = self.client.get_cluster(cluster_id)
        nodepools = list(self.client.list_nodepools(cluster_id))
        try:
            deployments = list(self.client.list_deployments(compute_cluster_id=cluster_id))
        except Exception:
            deployments = []
        return cluster, nodepools, deployments

    def _show_cluster(
        self, result: tuple[Any, list[Any], list[Any]], seconds: float, keep_wizard: bool = False
    ) -> str:
        self.cluster, self.nodepools, self.cluster_deployments = result
        self.nodepool = None
        cc = self.cluster
        rows = [
            ("Cluster", cc.id),
            ("Description", cc.description or "–"),
            (
                "Type",
                f"{cc.cluster_type or 'dedicated'}"
                + (f", managed by {cc.managed_by}" if cc.managed_by else ""),
            ),
            ("Cloud provider", provider_label(cc.cloud_provider) or "–"),
            ("Region", cc.region or "–"),
            ("Created", cc.created_at.strftime("%Y-%m-%d %H:%M UTC") if cc.created_at else "–"),
        ]
        if cc.cluster_type == "shared":
            rows.append(("Note", SHARED_CLUSTER_NOTE))
        self.cluster_info.value = (
            f"<h3 style='margin:4px 0'>Cluster {esc(cc.id)}</h3>"
            + html_table(["", ""], rows, css="cw-cluster-info")
        )
        per_np: dict[str, int] = {}
        for d in self.cluster_deployments:
            for p in d.nodepools or d.deployment_nodepools or []:
                per_np[p.id] = per_np.get(p.id, 0) + 1
        grid_rows = [
            [
                _open_button(
                    np.id,
                    f"Open nodepool {np.id}",
                    lambda nid=np.id: self.open_nodepool(cc.id, nid),
                ),
                _cell(np.instance_type_id or "–"),
                _cell(f"{np.min_instances}–{np.max_instances}"),
                _cell(_cost.capacity_text(np)),
                _cell(_status_text(np)),
                _cell(np.node_count),
                _cell(per_np.get(np.id, 0)),
            ]
            for np in self.nodepools
        ]
        self.nodepools_box.children = [
            _grid(["Nodepool", "Instance type", "Nodes", "Capacity", "Status", "Node count", "Deployments"],
                  grid_rows, "repeat(7, max-content)")
            if grid_rows else W.HTML("<i>No nodepools yet: create one to deploy models here.</i>")
        ]  # fmt: skip
        self.cluster_confirm.children = []
        mine = isinstance(self.wizard, NodepoolWizard) and self.wizard.cluster_id == cc.id
        if not mine or (self.wizard.done and not keep_wizard):
            self.cluster_wizard_area.children = []
        self.page = "cluster"
        self._render_breadcrumb()
        self._render_clock_note()
        return f"Cluster {cc.id}: {plural(len(self.nodepools), 'nodepool')} ({took(seconds)})"

    def show_nodepool_wizard(self) -> NodepoolWizard:
        """ "Create a new nodepool": the nodepool wizard for this cluster, inline."""
        self.wizard = NodepoolWizard(
            self.cluster, self.client, on_created=self._nodepool_created, on_open=self.open_nodepool
        )
        self.cluster_wizard_area.children = [self.wizard]
        return self.wizard

    def _nodepool_created(self, np: Any) -> None:
        # show it in the table; the wizard (with its summary) stays open below
        self.nodepools = [*self.nodepools, np]
        self.runner.run(
            self._load_cluster,
            self.cluster.id,
            busy="Refreshing…",
            done=self._show_cluster_keep_status,
        )

    def _show_cluster_keep_status(self, result: Any, seconds: float) -> None:
        self._show_cluster(result, seconds, keep_wizard=True)
        return None

    # --- one nodepool ---------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        """The backend's "now" (the local control plane's clock can be fast-forwarded)."""
        try:
            return self.client.server_time()
        except Exception:
            return dt.datetime.now(dt.UTC)

    def _load_nodepool(self, cluster_id: str, nodepool_id: str) -> dict[str, Any]:
        cluster = (
            self.cluster
            if self.cluster is not None and self.cluster.id == cluster_id
            else self.client.get_cluster(cluster_id)
        )
        np = self.client.get_nodepool(cluster_id, nodepool_id)
        deployments = list(
            self.client.list_deployments(nodepool_id=nodepool_id, compute_cluster_id=cluster_id)
        )
        self._measure_clock()
        out: dict[str, Any] = {
            "cluster": cluster,
            "nodepool": np,
            "deployments": deployments,
            "figures": {},
            "chart_error": "",
            "chart_note": "",
        }
        try:
            end = self._now()
            start = (
                max(end - HISTORY_WINDOW, np.created_at) if np.created_at else end - HISTORY_WINDOW
            )
            history = self.client.nodepool_history(cluster_id, nodepool_id, start, end)
            events = self.client.nodepool_events(cluster_id, nodepool_id, start, end)
            from compute_widgets import charts

            out["history"], out["events"] = history, events
            note = charts.history_note(history)
            if note:  # nothing to chart yet: words, not two figures of words
                out["chart_note"] = note
            else:
                out["figures"] = {
                    "utilization": charts.utilization(history),
                    "scaling_history": charts.scaling_history(history, events),
                }
        except Exception as exc:  # the page still shows; the chart area says why it is empty
            from ._base import one_line

            out["chart_error"] = one_line(exc)
        return out

    def _show_nodepool(
        self, data: dict[str, Any], seconds: float, keep_wizard: bool = False
    ) -> str:
        self.cluster, self.nodepool, self.deployments = (
            data["cluster"],
            data["nodepool"],
            data["deployments"],
        )
        self.history, self.events = data.get("history"), data.get("events")
        self.figures = data["figures"]
        np, cc = self.nodepool, self.cluster
        t = np.instance_types[0] if np.instance_types else None
        rows = [
            ("Nodepool", np.id),
            ("Cluster", f"{cc.id} ({cc.cluster_type or 'dedicated'})"),
            (
                "Instance type",
                (np.instance_type_id or "–")
                + (
                    f" — {_cost.accelerator_text(t)}"
                    if t is not None and t.compute_info is not None and t.is_gpu
                    else ""
                ),
            ),
            ("Autoscaling range", f"{np.min_instances} to {np.max_instances} nodes"),
            ("Capacity type", _cost.capacity_text(np)),
            ("Status", _status_text(np)),
            ("Node count", np.node_count),
        ]
        if np.description:
            rows.insert(1, ("Description", np.description))
        self.nodepool_info.value = (
            f"<h3 style='margin:4px 0'>Nodepool {esc(np.id)}</h3>"
            + html_table(["", ""], rows, css="cw-nodepool-info")
        )
        self.deployments_table.value = html_table(
            ["Deployment", "Model", "Replicas", "Status"],
            [
                [d.id, _model_text(d),
                 f"{d.autoscale_config.min_replicas}–{d.autoscale_config.max_replicas}" if d.autoscale_config else "–",
                 enum_label(d.status) or "–"]
                for d in self.deployments
            ],
            css="cw-deployments",
        )  # fmt: skip
        # edit form starts from the saved values
        spot_ok, od_ok = _cost.capacity(t) if t is not None else (True, True)
        with self.hold_trait_notifications():
            self.edit_max.value = max(np.max_instances, self.edit_min.value)
            self.edit_min.value = np.min_instances
            self.edit_max.value = np.max_instances
            self.edit_spot.value = np.spot
        self.edit_spot.disabled = not spot_ok or not od_ok
        self.nodepool_confirm.children = []
        mine = isinstance(self.wizard, DeploymentWizard) and self.wizard.nodepool_id == np.id
        if not mine or (self.wizard.done and not keep_wizard):
            self.nodepool_wizard_area.children = []
        note = data.get("chart_note", "")
        set_message(self.chart_note, note, kind="")
        show_figures(
            self.charts,
            self.figures.values(),
            f"Charts unavailable: {data['chart_error']}" if data["chart_error"] else "",
        )
        self.page = "nodepool"
        self._render_breadcrumb()
        self._sync_buttons()
        self._render_clock_note()
        self.hint.load(cc.id, np.id)  # after the page is on screen: it never waits for the hint
        return (
            f"Nodepool {np.id}: {plural(np.node_count, 'node')}, "
            f"{plural(len(self.deployments), 'deployment')} ({took(seconds)})"
        )

    def show_deployment_wizard(self) -> DeploymentWizard:
        """Deploy a model on the nodepool on screen."""
        self.wizard = DeploymentWizard(
            self.nodepool, self.client, on_created=self._deployment_created
        )
        self.nodepool_wizard_area.children = [self.wizard]
        return self.wizard

    def _deployment_created(self, _d: Any) -> None:
        cc, np_id = self.cluster.id, self.nodepool.id
        self.runner.run(
            self._load_nodepool, cc, np_id, busy="Refreshing…",
            done=lambda data, s: self._show_nodepool(data, s, keep_wizard=True) and None,
        )  # fmt: skip

    # --- edit -----------------------------------------------------------------------------------
    def edited_nodepool(self) -> Any:
        """The nodepool on screen with the edited range and spot setting (not saved)."""
        from compute_widgets.api import models as m

        np = self.nodepool
        t = np.instance_types[0] if np.instance_types else None
        return m.Nodepool(
            id=np.id,
            compute_cluster=m.ComputeCluster(id=self.cluster.id, user_id=self.cluster.user_id),
            instance_types=[m.InstanceType(id=np.instance_type_id)] if np.instance_type_id else [],
            node_capacity_type=_cost.capacity_types(t, self.edit_spot.value),
            min_instances=int(self.edit_min.value),
            max_instances=int(self.edit_max.value),
        )

    def _edit_problems(self) -> list[Any]:
        return self.edited_nodepool().problems()

    def _edited(self) -> bool:
        np = self.nodepool
        return (
            self.edit_min.value != np.min_instances
            or self.edit_max.value != np.max_instances
            or bool(self.edit_spot.value) != bool(np.spot)
        )

    def save_nodepool(self) -> Any:
        """Patch the nodepool's autoscaling range and spot setting, then reload its page."""
        if self.nodepool is None or self._edit_problems() or not self._edited():
            return None
        np = self.edited_nodepool()
        cc = self.cluster.id

        def patch_and_reload() -> dict[str, Any]:
            self.client.patch_nodepool(cc, np, action="overwrite")
            return self._load_nodepool(cc, np.id)

        def done(data: dict[str, Any], seconds: float) -> str:
            self._show_nodepool(data, seconds)
            n = data["nodepool"]
            return f"Saved nodepool {n.id}: {n.min_instances}–{n.max_instances} nodes, {_cost.capacity_text(n)} ({took(seconds)})"

        return self.runner.run(patch_and_reload, busy=f"Saving nodepool {np.id}…", done=done)

    # --- delete ---------------------------------------------------------------------------------
    def delete_message(self, kind: str) -> str:
        """What stops working if the cluster / nodepool on screen is deleted (reference §6.1)."""
        if kind == "nodepool":
            np, n = self.nodepool, len(self.deployments)
            ids = ", ".join(d.id for d in self.deployments)
            what = (
                f"Its {n} deployment{'s' if n != 1 else ''} ({ids}) stop working: requests to them fail."
                if n
                else "It has no deployments; its nodes are released."
            )
            return f"Delete nodepool {np.id} of cluster {self.cluster.id}? {what} This cannot be undone."
        cc, n = self.cluster, len(self.nodepools)
        ids = ", ".join(p.id for p in self.nodepools)
        k = len(self.cluster_deployments)
        what = (
            f"Its {n} nodepool{'s' if n != 1 else ''} ({ids}) stop working"
            + (f", and with them {k} deployment{'s' if k != 1 else ''}." if k else ".")
            if n
            else "It has no nodepools."
        )
        return f"Delete cluster {cc.id}? {what} This cannot be undone."

    def _ask_delete(self, kind: str) -> None:
        area = self.nodepool_confirm if kind == "nodepool" else self.cluster_confirm
        text = W.HTML(
            f"<div style='color:var(--jp-error-color1,#c62828)'>{esc(self.delete_message(kind))}</div>"
        )
        text.add_class("cw-confirm-text")
        name = self.nodepool.id if kind == "nodepool" else self.cluster.id
        yes = W.Button(
            description=f"Delete {kind} {name}",
            button_style="danger",
            layout=W.Layout(width="auto"),
        )
        yes.add_class("cw-confirm-delete")
        no = W.Button(description="Cancel", layout=W.Layout(width="auto"))
        yes.on_click(
            lambda _b: self.delete_nodepool() if kind == "nodepool" else self.delete_cluster()
        )
        no.on_click(lambda _b: setattr(area, "children", []))
        area.children = [text, W.HBox([yes, no])]

    def delete_nodepool(self) -> Any:
        """Delete the nodepool on screen (the confirmation's button calls this) and go back."""
        cc, np_id = self.cluster.id, self.nodepool.id

        def delete_and_reload() -> Any:
            self.client.delete_nodepool(cc, np_id)
            return self._load_cluster(cc)

        def done(result: Any, seconds: float) -> str:
            self._show_cluster(result, seconds)
            return f"Deleted nodepool {np_id} ({took(seconds)})"

        return self.runner.run(delete_and_reload, busy=f"Deleting nodepool {np_id}…", done=done)

    def delete_cluster(self) -> Any:
        """Delete the cluster on screen and go back to the clusters table."""
        cc = self.cluster.id

        def delete_and_reload() -> Any:
            self.client.delete_cluster(cc)
            return self._load_clusters()

        def done(result: Any, seconds: float) -> str:
            self._show_clusters(result, seconds)
            return f"Deleted cluster {cc} ({took(seconds)})"

        return self.runner.run(delete_and_reload, busy=f"Deleting cluster {cc}…", done=done)

    # --- representations ------------------------------------------------------------------------
    def _text(self) -> str:
        state = f" — {self.status.text}" if self.status.text else ""
        if self.page == "nodepool" and self.nodepool is not None:
            np = self.nodepool
            return (
                f"ComputeBrowser: nodepool {self.cluster.id}/{np.id}: {np.instance_type_id}, "
                f"{np.min_instances}-{np.max_instances} nodes, {_cost.capacity_text(np)}, "
                f"{plural(np.node_count, 'node')}, {plural(len(self.deployments), 'deployment')}{state}"
            )
        if self.page == "cluster" and self.cluster is not None:
            ids = ", ".join(p.id for p in self.nodepools) or "none"
            return f"ComputeBrowser: cluster {self.cluster.id}, nodepools: {ids}{state}"
        ids = ", ".join(c.id for c in self.clusters) or "none"
        return f"ComputeBrowser: {plural(len(self.clusters), 'cluster')} ({ids}){state}"

    def _html(self) -> str:
        if self.page == "nodepool" and self.nodepool is not None:
            body = (
                self.nodepool_info.value
                + self.hint.line.value  # the right-sizing hint, when it has arrived
                + "<b>Deployments</b>"
                + self.deployments_table.value
            )
        elif self.page == "cluster" and self.cluster is not None:
            body = self.cluster_info.value + html_table(
                ["Nodepool", "Instance type", "Nodes", "Capacity", "Status"],
                [
                    [
                        p.id,
                        p.instance_type_id,
                        f"{p.min_instances}–{p.max_instances}",
                        _cost.capacity_text(p),
                        _status_text(p),
                    ]
                    for p in self.nodepools
                ],
            )
        else:
            body = "<h3>Compute clusters</h3>" + html_table(
                ["Cluster", "Description", "Provider", "Region", "Type"],
                [
                    [
                        c.id,
                        c.description,
                        provider_label(c.cloud_provider),
                        c.region,
                        c.cluster_type,
                    ]
                    for c in self.clusters
                ],
            )
        return f"<div class='cw-browser'>{body}</div>"
