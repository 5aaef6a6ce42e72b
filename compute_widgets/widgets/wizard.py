"""The creation wizards of Clarifai's Compute page, as ipywidgets: cluster, nodepool, deployment.

Each wizard is a form over one api/models object. On every edit it builds that object from the
fields and shows ``model.problems()`` under the fields they concern (the rules live in
api/models.py, never here); the action button stays disabled while there is a problem or a call
is in flight. The action is one client call run by :class:`~._base.Runner`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import traitlets

from compute_widgets.api import enum_label, plural, provider_label

from . import _cost
from ._ascode import (
    ascode_html,
    cluster_command,
    deployment_command,
    nodepool_command,
    yaml_text,
)
from ._base import (
    CSS_SUMMARY,
    Runner,
    StatusLine,
    ViewBase,
    esc,
    field_message,
    html_table,
    labelled,
    resolve_client,
    set_message,
    took,
)
from ._words import CLUSTER_WORDS, DEPLOYMENT_WORDS, NODEPOOL_WORDS, in_words

if TYPE_CHECKING:
    from compute_widgets.api.client import ComputeClient
    from compute_widgets.api.models import ComputeCluster, Nodepool

__all__ = ["ClusterWizard", "NodepoolWizard", "DeploymentWizard"]


def _models():
    from compute_widgets.api import models

    return models


def _route(
    problems: list[Any], routes: dict[str, str], words: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Group problem messages by the form area whose field prefix matches (else "general"),
    reworded with the form's own field names when ``words`` is given."""
    out: dict[str, list[str]] = {}
    for p in problems:
        area = "general"
        for prefix, name in routes.items():
            if p.field == prefix or p.field.startswith((prefix + ".", prefix + "[")):
                area = name
                break
        out.setdefault(area, []).append(in_words(p.message, words) if words else p.message)
    return out


def _duplicate(kind: str, value: str, existing: set[str]) -> str:
    """The as-you-type hint for an ID that is already taken ("" when it is free)."""
    value = value.strip()
    if value and value in existing:
        return f"A {kind} with ID '{value}' already exists: choose another ID."
    return ""


def _is_duplicate_key(exc: BaseException) -> bool:
    return getattr(exc, "code_name", "") == "DATABASE_DUPLICATE_KEY"


def _suggest_id(text: str) -> str:
    """An ID from an instance type name, as Clarifai's UI pre-fills it (g5.xlarge -> g5-xlarge)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text).strip("-_")[:48]


def _check_subject(widget: str, value: object, kinds: tuple[type, ...], wanted: str) -> None:
    """The first argument is what the widget is about; the client only ever comes as client=."""
    if value is not None and not isinstance(value, kinds):
        raise TypeError(
            f"{widget}'s first argument is {wanted}, got {type(value).__name__}; "
            f"pass the client as client=..."
        )


def _cluster_id(cluster: Any) -> str:
    return cluster if isinstance(cluster, str) else cluster.id


def _fmt_num(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


class _Form(ViewBase):
    """A wizard page: fields, an action button, a status line and a result area."""

    action_label = "Create"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("cw-wizard")
        self.action = W.Button(description=self.action_label, button_style="primary")
        self.action.add_class("cw-action")
        self.action.on_click(self._on_action)
        self.general_msg = field_message()
        self.result = W.HTML()
        self.result.add_class(CSS_SUMMARY)
        self.next_step = W.VBox([])  # after a create: where to go next ("Open nodepool")
        self.problems: list[Any] = []
        self.done = False
        self._ready = True  # False while the form's own data (catalog, providers) is loading

    def _sync_buttons(self) -> None:
        disabled = self.runner.busy or self.done or not self._ready or bool(self.problems)
        if self.action.disabled != disabled:
            self.action.disabled = disabled

    def _on_action(self, _button: Any = None) -> None:
        if self.runner.busy or self.done or not self._ready:
            return
        self.validate()
        if self.problems:
            return
        self._act()

    def _act(self) -> None:  # subclasses: one runner.run(...)
        raise NotImplementedError

    def validate(self) -> list[Any]:
        """Rebuild the object from the fields, show its problems; returns them."""
        self.problems = self._problems()
        self._sync_buttons()
        return self.problems

    def _problems(self) -> list[Any]:
        return []

    def click(self) -> None:
        """Press the action button (what a user's click does; handy in scripts and tests)."""
        self.action.click()


# ----------------------------------------------------------------------------------------------
# Nodepool
# ----------------------------------------------------------------------------------------------


class NodepoolWizard(_Form):
    """Create a nodepool in ``cluster`` (a ComputeCluster, or its ID).

    ``instance_types`` skips the catalog fetch (the ClusterWizard and the benchmark pass one);
    ``on_created(nodepool)`` is called after a successful create.
    """

    action_label = "Create nodepool"

    def __init__(
        self,
        cluster: ComputeCluster | str | None = None,
        client: ComputeClient | None = None,
        *,
        cluster_id: str | None = None,
        instance_types: list[Any] | None = None,
        on_created: Callable[[Any], None] | None = None,
        on_open: Callable[[str, str], Any] | None = None,
    ) -> None:
        _check_subject("NodepoolWizard", cluster, (_models().ComputeCluster, str), "the cluster")
        cluster = cluster if cluster is not None else cluster_id
        if not cluster:
            raise ValueError("NodepoolWizard needs a cluster: a ComputeCluster or its ID")
        super().__init__()
        self.add_class("cw-nodepool-wizard")
        self.client = resolve_client(client)
        self.cluster = None if isinstance(cluster, str) else cluster
        self.cluster_id = _cluster_id(cluster)
        self.on_created = on_created
        self.on_open = on_open
        self.created: Any = None
        self.browser: Any = None  # the ComputeBrowser "Open nodepool" shows, when it made one
        self.types: dict[str, Any] = {}
        self.existing_ids: set[str] = set()  # nodepools already in the cluster (as-you-type hint)
        self._quiet = False
        self._id_touched = False
        self._setting_id = False
        self._touched = False  # no "choose an instance type" before the user did anything

        self.title = W.HTML(
            f"<h3 style='margin:4px 0'>New nodepool in cluster {esc(self.cluster_id)}</h3>"
        )
        self.nodepool_id = W.Text(placeholder="e.g. gpu-a10g", continuous_update=True)
        self.id_msg = field_message()
        self.description = W.Textarea(
            placeholder="optional", rows=2, layout=W.Layout(width="420px")
        )
        self.description_msg = field_message()

        # autoscaling range
        self.min_nodes = W.BoundedIntText(value=0, min=0, max=1000, layout=W.Layout(width="90px"))
        self.max_nodes = W.BoundedIntText(value=3, min=0, max=1000, layout=W.Layout(width="90px"))
        # A min above max is shown as a problem beside the fields and the user decides: moving
        # the other bound along would change a value the user did not touch (and the cost).
        self.range_msg = field_message()
        self.range_text = W.HTML()
        self.range_text.add_class("cw-range-text")

        # instance type picker
        self.kind_filter = W.ToggleButtons(
            options=["All", "GPU", "CPU"], value="All", layout=W.Layout(flex="0 0 auto")
        )
        self.kind_filter.style.button_width = "56px"  # three on one line
        self.accelerator_filter = W.Dropdown(
            options=["Any"], value="Any", layout=W.Layout(width="200px")
        )
        self.gpu_memory_filter = W.BoundedFloatText(
            value=0, min=0, max=4096, step=8, layout=W.Layout(width="90px")
        )
        self.instance_type = W.Select(options=[], rows=8, layout=W.Layout(width="620px"))
        self.instance_table = W.HTML()
        self.instance_details = W.HTML()
        self.instance_msg = field_message()

        # spot + cost
        self.spot = W.Checkbox(value=False, description="Use spot instances", indent=False)
        self.spot_note = W.HTML()
        self.spot_msg = field_message()
        self.cost = W.HTML()
        self.cost.add_class("cw-cost-estimate")

        for w in (
            self.description,
            self.min_nodes,
            self.max_nodes,
            self.spot,
            self.kind_filter,
            self.accelerator_filter,
            self.gpu_memory_filter,
            self.instance_type,
        ):
            w.observe(self._on_touch, names="value")  # before the handlers below
        self.nodepool_id.observe(self._on_id, names="value")  # first: validation sees the touch
        for w in (self.nodepool_id, self.description, self.min_nodes, self.max_nodes, self.spot):
            w.observe(self._on_field, names="value")
        self.instance_type.observe(self._on_instance, names="value")
        for w in (self.kind_filter, self.accelerator_filter, self.gpu_memory_filter):
            w.observe(self._on_filter, names="value")

        self.children = [
            self.title,
            labelled("Nodepool ID", self.nodepool_id),
            self.id_msg,
            labelled("Description", self.description),
            self.description_msg,
            W.HTML("<b>Instance type</b>"),
            W.HBox(
                [
                    self.kind_filter,
                    W.HTML("&nbsp;Accelerator&nbsp;"),
                    self.accelerator_filter,
                    W.HTML("&nbsp;Min GPU memory (GiB)&nbsp;"),
                    self.gpu_memory_filter,
                ]
            ),
            self.instance_type,
            self.instance_msg,
            self.instance_details,
            W.Accordion(
                children=[self.instance_table],
                titles=("All matching instance types",),
                selected_index=0,
            ),
            labelled(
                "Node autoscaling range", self.min_nodes, W.HTML("&nbsp;to&nbsp;"), self.max_nodes
            ),
            self.range_msg,
            self.range_text,
            self.spot,
            self.spot_note,
            self.spot_msg,
            W.HTML("<b>Estimated cost</b>"),
            self.cost,
            self.general_msg,
            W.HBox([self.action]),
            self.status,
            self.result,
            self.next_step,
        ]

        if self.cluster is not None and instance_types is not None:
            self._populate(list(instance_types))
        else:
            self._ready = False
            self.runner.run(self._fetch, busy="Loading instance types…", done=self._fetched)
        self.validate()

    # --- loading --------------------------------------------------------------------------------
    def _fetch(self) -> tuple[Any, list[Any], set[str]]:
        cluster = self.cluster or self.client.get_cluster(self.cluster_id)
        provider = cluster.cloud_provider.id if cluster.cloud_provider is not None else ""
        types = self.client.list_instance_types(provider or "all", cluster.region or "all")
        try:
            taken = {np.id for np in self.client.list_nodepools(self.cluster_id)}
        except Exception:  # the hint is a courtesy: the server still refuses a duplicate
            taken = set()
        return cluster, list(types), taken

    def _fetched(self, result: tuple[Any, list[Any], set[str]], seconds: float) -> str:
        self.cluster, types, self.existing_ids = result
        self._populate(types)
        self._ready = True
        self.validate()
        where = " ".join(
            x for x in (provider_label(self.cluster.cloud_provider), self.cluster.region) if x
        )
        return (
            f"{plural(len(types), 'instance type')} for {where or 'this cluster'} ({took(seconds)})"
        )

    def _populate(self, types: list[Any]) -> None:
        self.types = {t.id: t for t in types}
        accels = sorted(
            {
                a
                for t in types
                if t.compute_info is not None
                for a in t.compute_info.accelerator_type
            }
        )
        self._quiet = True
        try:
            self.accelerator_filter.options = ["Any", *accels]
            self.accelerator_filter.value = "Any"
        finally:
            self._quiet = False
        self._apply_filter()

    # --- the picker -----------------------------------------------------------------------------
    def matching_types(self) -> list[Any]:
        """The catalog filtered by the GPU / accelerator / GPU-memory filters, cheapest first."""
        kind, accel, mem = (
            self.kind_filter.value,
            self.accelerator_filter.value,
            self.gpu_memory_filter.value,
        )
        out = []
        for t in self.types.values():
            if kind == "GPU" and not t.is_gpu or kind == "CPU" and t.is_gpu:
                continue
            if accel != "Any" and (
                t.compute_info is None or accel not in t.compute_info.accelerator_type
            ):
                continue
            if mem and (t.gpu_memory_gib or 0) < mem:
                continue
            out.append(t)
        out.sort(key=lambda t: (_cost.od_price(t) is None, _cost.od_price(t) or 0, t.id))
        return out

    def _option_label(self, t: Any) -> str:
        acc = _cost.accelerator_text(t)
        acc = "" if acc == "–" else f" · {acc}"
        return f"{t.id} — {_fmt_num(t.vcpu)} vCPU · {_fmt_num(t.memory_gib)} GiB{acc} · {_cost.money(_cost.od_price(t))}"

    def _apply_filter(self) -> None:
        matching = self.matching_types()
        keep = self.instance_type.value
        self._quiet = True
        try:
            self.instance_type.options = [(self._option_label(t), t.id) for t in matching]
            ids = {t.id for t in matching}
            self.instance_type.value = keep if keep in ids else None
        finally:
            self._quiet = False
        self._render_table(matching)
        if self.instance_type.value != keep:
            self._on_instance({"new": self.instance_type.value})

    def _render_table(self, matching: list[Any] | None = None) -> None:
        matching = self.matching_types() if matching is None else matching
        chosen = self.instance_type.value
        rows = []
        highlight = None
        for i, t in enumerate(matching):
            if t.id == chosen:
                highlight = i
            spot_ok, od_ok = _cost.capacity(t)
            cap = (
                "spot only" if not od_ok else ("on-demand + spot" if spot_ok else "on-demand only")
            )
            mem = t.gpu_memory_gib
            rows.append(
                [
                    t.id,
                    _fmt_num(t.vcpu),
                    f"{_fmt_num(t.memory_gib)} GiB",
                    _cost.accelerator_text(t),
                    f"{mem:.0f} GiB" if mem else "–",
                    _cost.money(_cost.od_price(t)),
                    cap,
                ]
            )
        self.instance_table.value = (
            html_table(
                [
                    "Instance",
                    "vCPU",
                    "Memory",
                    "Accelerators",
                    "GPU memory",
                    "$/h on-demand",
                    "Capacity",
                ],
                rows,
                highlight=highlight,
                css="cw-instance-table",
            )
            + f"<div style='font-size:85%'>{len(rows)} of {len(self.types)} types match the filters</div>"
        )

    def _render_details(self, t: Any | None) -> None:
        if t is None:
            self.instance_details.value = ""
            return
        spot_ok, od_ok = _cost.capacity(t)
        sp, est = _cost.spot_price(t)
        rows = [
            ("Instance type", t.id),
            ("Description", t.description or "–"),
            ("vCPU / memory", f"{_fmt_num(t.vcpu)} vCPU, {_fmt_num(t.memory_gib)} GiB"),
            ("Accelerators", _cost.accelerator_text(t)),
            ("On-demand", _cost.money(_cost.od_price(t))),
            (
                "Spot",
                (_cost.money(sp) + (" (estimate)" if est else "")) if spot_ok else "not offered",
            ),
            (
                "Capacity",
                "spot only"
                if not od_ok
                else ("on-demand or spot" if spot_ok else "on-demand only"),
            ),
        ]
        if t.architecture:
            rows.append(("Architecture", t.architecture))
        self.instance_details.value = html_table(["", ""], rows, css="cw-instance-details")

    # --- events ---------------------------------------------------------------------------------
    def _on_filter(self, _change: dict) -> None:
        if not self._quiet:
            self._apply_filter()

    def _on_id(self, change: dict) -> None:
        if not self._setting_id:
            self._id_touched = self._touched = True

    def _on_touch(self, _change: dict) -> None:
        if not self._quiet:
            self._touched = True

    def _on_instance(self, change: dict) -> None:
        if self._quiet:
            return
        t = self.types.get(change["new"]) if change["new"] else None
        if t is not None and not self._id_touched:
            self._setting_id = True
            try:
                self.nodepool_id.value = _suggest_id(t.id)
            finally:
                self._setting_id = False
        # spot toggle: disabled with a reason, or forced on, as the type allows
        spot_ok, od_ok = _cost.capacity(t) if t is not None else (True, True)
        if not spot_ok:
            self.spot.value = False
        elif not od_ok:
            self.spot.value = True
        self.spot.disabled = t is not None and (not spot_ok or not od_ok)
        self._render_details(t)
        self._render_table()
        self._on_field()

    def _on_field(self, _change: dict | None = None) -> None:
        t = self.selected_type
        self.range_text.value = f"<span style='font-size:90%'>{esc(_cost.range_sentence(t, self.min_nodes.value, self.max_nodes.value))}</span>"
        self.spot_note.value = f"<span style='font-size:85%'>{esc(_cost.spot_note(t))}</span>"
        self.cost.value = _cost.cost_html(
            t, self.min_nodes.value, self.max_nodes.value, self.spot.value
        )
        self.validate()

    # --- the model ------------------------------------------------------------------------------
    @property
    def selected_type(self) -> Any | None:
        return self.types.get(self.instance_type.value) if self.instance_type.value else None

    def nodepool(self) -> Any:
        """The Nodepool the form describes right now (not validated)."""
        m = _models()
        t = self.selected_type
        user = getattr(self.cluster, "user_id", "") or getattr(self.client, "user_id", "") or ""
        return m.Nodepool(
            id=self.nodepool_id.value.strip(),
            description=self.description.value,
            compute_cluster=m.ComputeCluster(id=self.cluster_id, user_id=user),
            node_capacity_type=_cost.capacity_types(t, self.spot.value),
            instance_types=[m.InstanceType(id=self.instance_type.value)]
            if self.instance_type.value
            else [],
            min_instances=int(self.min_nodes.value),
            max_instances=int(self.max_nodes.value),
        )

    def _problems(self) -> list[Any]:
        problems = self.nodepool().problems() if self._ready else []
        areas = _route(
            problems,
            {
                "id": "id",
                "description": "description",
                "min_instances": "range",
                "max_instances": "range",
                "instance_types": "instance",
                "node_capacity_type": "spot",
            },
            NODEPOOL_WORDS,
        )
        id_msgs = areas.get("id", [])
        if not self._id_touched and not self.nodepool_id.value:
            id_msgs = []  # an untouched empty field gets no red text; the button says enough
        taken = _duplicate("nodepool", self.nodepool_id.value, self.existing_ids)
        if taken and self.created is None:
            id_msgs = [taken]
            problems = [*problems, _models().Problem("id", taken)]
        if not self.instance_type.value and self._ready:
            # the model's wording names an AWS example; the form says where to choose
            areas["instance"] = (
                ["Choose an instance type from the list above."] if self._touched else []
            )
        set_message(self.id_msg, " ".join(id_msgs))
        set_message(self.description_msg, " ".join(areas.get("description", [])))
        set_message(self.range_msg, " ".join(areas.get("range", [])))
        set_message(self.instance_msg, " ".join(areas.get("instance", [])))
        set_message(self.spot_msg, " ".join(areas.get("spot", [])))
        set_message(self.general_msg, " ".join(areas.get("general", [])))
        return problems

    # --- create ---------------------------------------------------------------------------------
    def _act(self) -> None:
        np = self.nodepool()
        self.runner.run(
            self.client.create_nodepool,
            self.cluster_id,
            np,
            busy=f"Creating nodepool {np.id}…",
            done=self._created,
            failed=self._create_failed,
        )

    def _create_failed(self, exc: BaseException) -> None:
        if _is_duplicate_key(exc):  # taken since the form loaded: say it beside the field too
            self.existing_ids.add(self.nodepool_id.value.strip())
            self.validate()  # the as-you-type hint, and Create waits for another ID

    def _created(self, np: Any, seconds: float) -> str:
        self.created = np
        self.done = True
        self.action.description = "Created"
        self.result.value = _nodepool_summary(
            self.cluster_id, np, self.types.get(np.instance_type_id)
        )
        self.open_button = W.Button(
            description=f"Open nodepool {np.id}",
            icon="arrow-right",
            button_style="primary",
            layout=W.Layout(width="auto"),
            tooltip="Its page: status, autoscaling, deployments and charts",
        )
        self.open_button.add_class("cw-open-nodepool")
        self.open_button.on_click(lambda _b: self.open_nodepool())
        self.next_step.children = [W.HBox([self.open_button])]
        if self.on_created is not None:
            self.on_created(np)
        return f"Created nodepool {np.id} in {took(seconds)}"

    def open_nodepool(self) -> Any:
        """The next step after a create: the new nodepool's page (Clarifai's wizard opens it).

        Inside a ComputeBrowser (``on_open``) the browser moves to that page; otherwise a
        ComputeBrowser opens below the card, at that page. Returns the browser, or on_open's result.
        """
        if self.created is None:
            return None
        if self.on_open is not None:
            return self.on_open(self.cluster_id, self.created.id)
        if self.browser is None:
            from .browser import ComputeBrowser

            self.browser = ComputeBrowser(self.client, nodepool=(self.cluster_id, self.created.id))
            self.next_step.children = [*self.next_step.children, self.browser]
        else:
            self.browser.open_nodepool(self.cluster_id, self.created.id)
        return self.browser

    def _subviews(self) -> list[ViewBase]:
        return [self.browser] if self.browser is not None else []

    # --- representations ------------------------------------------------------------------------
    def _text(self) -> str:
        if self.created is not None:
            return f"NodepoolWizard: created nodepool {self.created.id} in cluster {self.cluster_id}\n{nodepool_command(self.cluster_id, self.created)}"
        t = self.instance_type.value or "no instance type"
        state = f"; {self.status.text}" if self.status.text else ""
        return (
            f"NodepoolWizard(cluster={self.cluster_id!r}, id={self.nodepool_id.value!r}, "
            f"instance={t}, nodes {self.min_nodes.value}-{self.max_nodes.value}, "
            f"spot={self.spot.value}){state}"
        )

    def _html(self) -> str:
        if self.created is not None:
            return self.result.value
        return (
            f"<div class='cw-wizard'><b>Nodepool wizard</b> for cluster {esc(self.cluster_id)}: "
            f"{esc(self._text())}<br><i>Run the notebook to use the interactive form.</i></div>"
        )


def _nodepool_summary(cc_id: str, np: Any, t: Any | None) -> str:
    rows = [
        ("Nodepool", np.id),
        ("Cluster", cc_id),
        (
            "Instance type",
            np.instance_type_id
            + (f" ({_cost.accelerator_text(t)})" if t is not None and t.is_gpu else ""),
        ),
        ("Autoscaling range", f"{np.min_instances} to {np.max_instances} nodes"),
        ("Capacity", _cost.capacity_text(np)),
        ("Status", enum_label(np.status) or "–"),
    ]
    if np.description:
        rows.insert(2, ("Description", np.description))
    return (
        f"<div class='{CSS_SUMMARY}'><b>Created nodepool {esc(np.id)}</b>"
        + html_table(["", ""], rows, css="cw-summary-table")
        + ascode_html(nodepool_command(cc_id, np), yaml_text(np))
        + "</div>"
    )


# ----------------------------------------------------------------------------------------------
# Cluster
# ----------------------------------------------------------------------------------------------

CLUSTER_TYPE_MANAGED = "Dedicated Clarifai-managed cloud compute"
CLUSTER_TYPE_SELF = "Dedicated self-managed compute (coming soon)"


def client_has_token(client: Any) -> bool:
    """Whether the connection already carries a token (never reads it out)."""
    for name in ("secret", "has_token", "token", "_token"):
        value = getattr(client, name, None)
        if callable(value):
            continue
        if value:
            return True
    return False


class ClusterWizard(ViewBase):
    """Create a compute cluster, then (step 2) its first nodepool — Clarifai's Compute wizard.

    ``ask_pat``: show the Personal Access Token field; by default only when the connection has
    no token. A typed PAT is moved out of the widget at once (the field is cleared, its value is
    never kept in synced state) and sent as the cluster's ``key``.
    """

    step = traitlets.Int(0, help="0: cluster, 1: nodepool")

    def __init__(self, client: ComputeClient | None = None, *, ask_pat: bool | None = None) -> None:
        super().__init__()
        self.add_class("cw-wizard")
        self.add_class("cw-cluster-wizard")
        self.client = resolve_client(client)
        self.created: Any = None
        self.nodepool_wizard: NodepoolWizard | None = None
        self._pat: str | None = None
        self._ready = False
        self.problems: list[Any] = []
        self.existing_ids: set[str] = set()  # clusters that exist (the as-you-type hint)

        self.steps = W.HTML()
        self.cluster_id = W.Text(placeholder="e.g. my-aws-cluster", continuous_update=True)
        self.id_msg = field_message()
        self._id_touched = False
        self.cluster_id.observe(lambda _c: setattr(self, "_id_touched", True), names="value")
        self.description = W.Textarea(
            placeholder="optional", rows=2, layout=W.Layout(width="420px")
        )
        self.description_msg = field_message()
        self.cluster_type = W.ToggleButtons(
            options=[CLUSTER_TYPE_MANAGED], value=CLUSTER_TYPE_MANAGED
        )
        self.cluster_type_self = W.ToggleButton(
            description=CLUSTER_TYPE_SELF, value=False, disabled=True
        )
        # sized to their text: fixed widths cut it off ("…cloud comp…", "(coming so…")
        self.cluster_type_self.layout.width = "auto"
        self.cluster_type.style.button_width = "auto"
        self.cluster_type.layout.flex = "0 0 auto"
        self.provider = W.Dropdown(options=[], layout=W.Layout(width="200px"))
        self.region = W.Dropdown(options=[], layout=W.Layout(width="200px"))
        self.location_msg = field_message()
        self.provider.observe(self._on_provider, names="value")

        self.ask_pat = (not client_has_token(self.client)) if ask_pat is None else ask_pat
        self.pat = W.Password(placeholder="paste a PAT, then press Enter", continuous_update=False)
        self.pat.observe(self._on_pat, names="value")
        self.pat_note = W.HTML()
        self.pat_msg = field_message()
        self.general_msg = field_message()
        self._render_pat()

        self.action = W.Button(description="Continue", button_style="primary")
        self.action.add_class("cw-action")
        self.action.on_click(self._on_continue)
        self.cluster_result = W.HTML()
        self.cluster_result.add_class(CSS_SUMMARY)

        for w in (self.cluster_id, self.description, self.region):
            w.observe(self.validate, names="value")

        pat_row = (
            labelled("Personal Access Token", self.pat, self.pat_note)
            if self.ask_pat
            else labelled("Personal Access Token", self.pat_note)
        )
        self.cluster_page = W.VBox(
            [
                labelled("Cluster ID", self.cluster_id),
                self.id_msg,
                labelled("Description", self.description),
                self.description_msg,
                labelled("Cluster type", self.cluster_type),
                labelled("", self.cluster_type_self),
                labelled("Cloud provider", self.provider),
                labelled("Region", self.region),
                self.location_msg,
                pat_row,
                self.pat_msg,
                self.general_msg,
                W.HBox([self.action]),
            ]
        )
        self.nodepool_page = W.VBox([])
        self.pages = W.Stack([self.cluster_page, self.nodepool_page], selected_index=0)
        self.children = [self.steps, self.pages, self.status]
        self._on_step({"new": 0})
        self.runner.run(
            self._fetch_providers, busy="Loading cloud providers…", done=self._providers_fetched
        )
        self.validate()

    # --- steps ----------------------------------------------------------------------------------
    # the other step's name: the theme's secondary text colour (4.6:1 light, 5.6:1 dark), not an
    # opacity, which faded it to 4.3:1 on white
    _STEP_LATER = "color:var(--jp-ui-font-color2,#757575)"

    @traitlets.observe("step")
    def _on_step(self, change: dict) -> None:
        step = change["new"]
        if hasattr(self, "pages"):
            self.pages.selected_index = step
        names = ["1 Cluster", "2 Nodepool"]
        self.steps.value = " › ".join(
            f"<b>{esc(n)}</b>" if i == step else f"<span style='{self._STEP_LATER}'>{esc(n)}</span>"
            for i, n in enumerate(names)
        )

    def _subviews(self) -> list[ViewBase]:
        return [self.nodepool_wizard] if self.nodepool_wizard is not None else []

    # --- providers and regions ------------------------------------------------------------------
    def _fetch_providers(self) -> tuple[list[Any], str, list[Any], set[str]]:
        providers = list(self.client.list_cloud_providers())
        ids = [p.id for p in providers]
        first = "aws" if "aws" in ids else (ids[0] if ids else "")
        regions = list(self.client.list_regions(first)) if first else []
        try:
            taken = {c.id for c in self.client.list_clusters()}
        except Exception:  # the hint is a courtesy: the server still refuses a duplicate
            taken = set()
        return providers, first, regions, taken

    def _providers_fetched(
        self, result: tuple[list[Any], str, list[Any], set[str]], seconds: float
    ) -> str:
        providers, first, regions, self.existing_ids = result
        self._quiet_provider = True
        try:
            self.provider.options = [(provider_label(p), p.id) for p in providers]
            self.provider.value = first or None
        finally:
            self._quiet_provider = False
        self._set_regions(regions)
        self._ready = True
        self.validate()
        return f"{plural(len(providers), 'cloud provider')} ({took(seconds)})"

    def _set_regions(self, regions: list[Any]) -> None:
        self.region.options = [r.id for r in regions]
        self.region.value = regions[0].id if regions else None

    def _on_provider(self, change: dict) -> None:
        if getattr(self, "_quiet_provider", False) or not change["new"]:
            return
        self.region.options = []
        self.runner.run(
            self.client.list_regions,
            change["new"],
            busy=f"Loading regions of {change['new']}…",
            done=lambda regions, s: (self._set_regions(list(regions)), self.validate(), None)[-1],
        )

    # --- PAT ------------------------------------------------------------------------------------
    def _on_pat(self, change: dict) -> None:
        value = change["new"]
        if not value:
            return
        # Move the token out of the synced trait at once: the frontend state and any saved
        # notebook never hold it; the kernel keeps it in a private attribute.
        self._pat = value.strip()
        self.pat.value = ""
        self._render_pat()
        self.validate()

    def _render_pat(self) -> None:
        if not self.ask_pat:
            text = "using the token of your connection"
        elif self._pat:
            text = "token received (hidden). Paste again to replace it."
        else:
            text = "needed: Clarifai stores it as the cluster's key to manage the cloud resources."
        self.pat_note.value = f"<span style='font-size:90%'>&nbsp;{esc(text)}</span>"

    # --- the model ------------------------------------------------------------------------------
    def cluster(self) -> Any:
        """The ComputeCluster the form describes (without the key)."""
        m = _models()
        return m.ComputeCluster(
            id=self.cluster_id.value.strip(),
            description=self.description.value,
            cloud_provider=m.CloudProvider(id=self.provider.value or ""),
            region=self.region.value or "",
            cluster_type="dedicated",
            managed_by="clarifai",
            user_id=getattr(self.client, "user_id", "") or "",
        )

    def validate(self, _change: Any = None) -> list[Any]:
        problems = list(self.cluster().problems()) if self._ready else []
        areas = _route(
            problems,
            {
                "id": "id",
                "description": "description",
                "cloud_provider": "location",
                "region": "location",
            },
            CLUSTER_WORDS,
        )
        id_msgs = areas.get("id", []) if (self._id_touched or self.cluster_id.value) else []
        taken = _duplicate("cluster", self.cluster_id.value, self.existing_ids)
        if taken and self.created is None:
            id_msgs = [taken]
            problems = [*problems, _models().Problem("id", taken)]
        set_message(self.id_msg, " ".join(id_msgs))
        set_message(self.description_msg, " ".join(areas.get("description", [])))
        set_message(self.location_msg, " ".join(areas.get("location", [])))
        set_message(self.general_msg, " ".join(areas.get("general", [])))
        pat_missing = self.ask_pat and not self._pat
        set_message(
            self.pat_msg,
            "Personal Access Token: paste a PAT to continue."
            if pat_missing and self._id_touched
            else "",
        )
        self.problems = problems
        self._pat_missing = pat_missing
        self._sync_buttons()
        return problems

    def _sync_buttons(self) -> None:
        busy = self.runner.busy
        disabled = (
            busy
            or not self._ready
            or bool(self.problems)
            or getattr(self, "_pat_missing", False)
            or self.created is not None
        )
        if hasattr(self, "action") and self.action.disabled != disabled:
            self.action.disabled = disabled
        if hasattr(self, "provider"):
            self.provider.disabled = busy or self.created is not None

    def _on_continue(self, _button: Any = None) -> None:
        if self.runner.busy or self.created is not None or not self._ready:
            return
        if self.validate() or self._pat_missing:
            return
        cc = self.cluster()
        # The cluster's key is a PAT (clarifai-api.md §2.1): the typed one, else the
        # connection's own token, as the Clarifai SDK does. It goes into the request only.
        secret = getattr(self.client, "secret", None)
        pat = self._pat or (secret.reveal() if secret and hasattr(secret, "reveal") else "")
        if pat:
            cc = cc.model_copy(update={"key": _models().Key(id=pat)})
        self.runner.run(
            self.client.create_cluster,
            cc,
            busy=f"Creating cluster {cc.id}…",
            done=self._created,
            failed=self._create_failed,
        )

    def _create_failed(self, exc: BaseException) -> None:
        if _is_duplicate_key(exc):  # created elsewhere since the form loaded
            self.existing_ids.add(self.cluster_id.value.strip())
            self.validate()  # the as-you-type hint, and Continue waits for another ID

    def click(self) -> None:
        """Press "Continue"."""
        self.action.click()

    def _created(self, cc: Any, seconds: float) -> str:
        self.created = cc
        self._pat = None  # sent once as the cluster's key; nothing to keep
        command, yaml = cluster_command(cc), yaml_text(cc)
        self.cluster_result.value = (
            f"<details class='{CSS_SUMMARY}'><summary><b>Created cluster {esc(cc.id)}</b> "
            f"({esc(provider_label(cc.cloud_provider))} {esc(cc.region)}) — as code</summary>"
            f"{ascode_html(command, yaml)}</details>"
        )
        self.nodepool_wizard = NodepoolWizard(cc, self.client)
        self.nodepool_page.children = [self.cluster_result, self.nodepool_wizard]
        self.step = 1
        return f"Created cluster {cc.id} in {took(seconds)}"

    # --- representations ------------------------------------------------------------------------
    def _text(self) -> str:
        if self.created is not None:
            extra = f"\n{self.nodepool_wizard._text()}" if self.nodepool_wizard is not None else ""
            return f"ClusterWizard: created cluster {self.created.id}\n{cluster_command(self.created)}{extra}"
        state = f"; {self.status.text}" if self.status.text else ""
        return (
            f"ClusterWizard(id={self.cluster_id.value!r}, provider={self.provider.value!r}, "
            f"region={self.region.value!r}, step={self.step}){state}"
        )

    def _html(self) -> str:
        body = self.cluster_result.value if self.created is not None else ""
        return (
            f"<div class='cw-wizard'><b>Cluster wizard</b>: {esc(self._text())}{body}"
            "<br><i>Run the notebook to use the interactive form.</i></div>"
        )


# ----------------------------------------------------------------------------------------------
# Deployment
# ----------------------------------------------------------------------------------------------

AUTOSCALE_DEFAULTS = {
    "scale_up_delay_seconds": 300,
    "scale_down_delay_seconds": 300,
    "scale_to_zero_delay_seconds": 3600,
    "traffic_history_seconds": 600,
}
"""Clarifai SDK `model deploy` defaults (reference/clarifai-api.md §5.1)."""


def _nodepool_ref(nodepool: Any) -> tuple[str, str]:
    """(cluster id, nodepool id) from a Nodepool, a (cc, np) tuple or "cc/np"."""
    if isinstance(nodepool, str):
        cc, sep, np = nodepool.partition("/")
        if not sep:
            raise ValueError(
                "nodepool: give a Nodepool, (cluster_id, nodepool_id) or 'cluster_id/nodepool_id'"
            )
        return cc, np
    if isinstance(nodepool, tuple):
        return str(nodepool[0]), str(nodepool[1])
    cc = nodepool.compute_cluster.id if nodepool.compute_cluster is not None else ""
    return cc, nodepool.id


SCHEDULING_WORDS: dict[str, str] = {
    "PERFORMANCE": "Best performance (Clarifai's default)",
    "PRICE": "Lowest price",
    "PREFER_SPOT": "Prefer spot nodes (cheaper, can be preempted)",
    "PREFER_ONDEMAND": "Prefer on-demand nodes",
    "UTILIZATION": "Least busy nodepool",
    "NETWORK": "Lowest network latency",
    "RANDOM": "Any nodepool (random)",
}
"""The scheduling choices the form offers, in a person's words (Deployment.SchedulingChoice,
reference §2.6). Not offered: UNKNOWN_SCHEDULING_CHOICE (unset) and FAIL, which the reference
only names: it is no placement strategy a person would pick, and a deployment set to fail rather
than be placed would serve nothing; a deployment that has it shows the enum's own words."""

NOT_PINNED = "Newest version (not pinned)"
SEARCH_PAGE = 20  # models per search (the caller's own first, then the public ones)


def _model_key(user_id: str, app_id: str, model_id: str) -> str:
    return f"{user_id}/{app_id}/{model_id}"


def _model_option(model: Any, width: int = 110) -> str:
    """ "owner / app / model — description", cut to one line of the results list."""
    text = model.path + (f" — {model.description}" if model.description else "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _version_option(v: Any, newest: bool) -> str:
    date = v.created_at.strftime("%Y-%m-%d") if v.created_at is not None else ""
    label = " · ".join(x for x in (date, v.id) if x) + (" (newest)" if newest else "")
    return label + (f" — {v.description}" if v.description else "")


class DeploymentWizard(_Form):
    """Deploy a model on ``nodepool`` (a Nodepool, ``(cluster_id, nodepool_id)`` or "cc/np").

    The model comes from a searchable list (ListModels: the caller's own models, then the
    public ones), then a version (ListModelVersions); owner, app and model ID can also be typed
    by hand. The worker names exactly the chosen owner/app/model and version.
    """

    action_label = "Deploy"

    def __init__(
        self,
        nodepool: Nodepool | tuple[str, str] | str | None = None,
        client: ComputeClient | None = None,
        *,
        cluster_id: str | None = None,
        nodepool_id: str | None = None,
        on_created: Callable[[Any], None] | None = None,
    ) -> None:
        _check_subject(
            "DeploymentWizard", nodepool, (_models().Nodepool, tuple, str), "the nodepool"
        )
        if nodepool is None:
            if not (cluster_id and nodepool_id):
                raise ValueError(
                    "DeploymentWizard needs a nodepool: a Nodepool, (cluster_id, nodepool_id) or 'cc/np'"
                )
            nodepool = (cluster_id, nodepool_id)
        super().__init__()
        self.add_class("cw-deployment-wizard")
        self.client = resolve_client(client)
        self.cluster_id, self.nodepool_id = _nodepool_ref(nodepool)
        self.on_created = on_created
        self.created: Any = None
        self._id_touched = False
        self._setting_id = False
        self._filling = False  # the picker is writing owner/app/model: not a hand edit
        self._listing = False  # the results list is being replaced: not a choice
        self.found: dict[str, Any] = {}  # results key -> Model
        self.chosen: Any = None  # the Model picked from the list (None: typed by hand)
        self._searched: str | None = None  # the query the results list shows
        self._versions_for: str | None = None  # the model key the version list belongs to
        m = _models()

        self.title = W.HTML(
            f"<h3 style='margin:4px 0'>Deploy a model on nodepool {esc(self.nodepool_id)} "
            f"(cluster {esc(self.cluster_id)})</h3>"
        )
        # --- the model: search, results, version ----------------------------------------------
        self.model_search = W.Text(
            placeholder="Search models by name, owner or description (e.g. llama)",
            continuous_update=True,
            layout=W.Layout(width="420px"),
        )
        self.model_search.add_class("cw-model-search")
        self.model_results = W.Select(options=[], rows=6, layout=W.Layout(width="640px"))
        self.model_results.add_class("cw-model-results")
        self.search_status = StatusLine()
        self.search_runner = Runner(self.search_status, self._search_settled)
        self.version = W.Dropdown(
            options=[(NOT_PINNED, "")], value="", layout=W.Layout(width="640px")
        )
        self.version.add_class("cw-model-version")
        self.version_status = StatusLine()
        self.version_runner = Runner(self.version_status, self._versions_settled)
        hand = {"style": {"description_width": "initial"}, "continuous_update": True}
        self.user_id = W.Text(
            value=getattr(self.client, "user_id", "") or "",
            description="Owner",
            placeholder="user id",
            layout=W.Layout(width="200px"),
            **hand,
        )
        self.app_id = W.Text(
            description="App", placeholder="app id", layout=W.Layout(width="200px"), **hand
        )
        self.model_field = W.Text(
            description="Model ID", placeholder="model id", layout=W.Layout(width="260px"), **hand
        )
        self.model_msg = field_message()
        # --- the rest of the deployment ---------------------------------------------------------
        self.deployment_id = W.Text(placeholder="e.g. deploy-my-model", continuous_update=True)
        self.id_msg = field_message()
        self.description = W.Text(placeholder="optional", layout=W.Layout(width="420px"))
        self.min_replicas = W.BoundedIntText(
            value=0, min=0, max=1000, layout=W.Layout(width="90px")
        )
        self.max_replicas = W.BoundedIntText(
            value=5, min=0, max=1000, layout=W.Layout(width="90px")
        )
        secs = {"min": 0, "max": 7 * 86400, "layout": W.Layout(width="90px")}
        self.scale_up_delay = W.BoundedIntText(
            value=AUTOSCALE_DEFAULTS["scale_up_delay_seconds"], **secs
        )
        self.scale_down_delay = W.BoundedIntText(
            value=AUTOSCALE_DEFAULTS["scale_down_delay_seconds"], **secs
        )
        self.scale_to_zero_delay = W.BoundedIntText(
            value=AUTOSCALE_DEFAULTS["scale_to_zero_delay_seconds"], **secs
        )
        self.traffic_history = W.BoundedIntText(
            value=AUTOSCALE_DEFAULTS["traffic_history_seconds"], **secs
        )
        self.disable_packing = W.Checkbox(
            value=False, description="One replica per node (disable packing)", indent=False
        )
        self.autoscale_msg = field_message()
        choices = [(words, name) for name, words in SCHEDULING_WORDS.items()
                   if name in m.SchedulingChoice.__members__]  # fmt: skip
        self.scheduling = W.Dropdown(
            options=choices, value="PERFORMANCE", layout=W.Layout(width="320px")
        )

        for w in (
            self.user_id, self.app_id, self.model_field, self.version, self.deployment_id,
            self.description, self.min_replicas, self.max_replicas, self.scale_up_delay,
            self.scale_down_delay, self.scale_to_zero_delay, self.traffic_history,
            self.disable_packing, self.scheduling,
        ):  # fmt: skip
            w.observe(self.validate, names="value")
        self.deployment_id.observe(self._on_id, names="value")
        self.model_field.observe(self._on_model, names="value")
        for w in (self.user_id, self.app_id, self.model_field):
            w.observe(self._on_hand_edit, names="value")
        self.model_search.observe(lambda _c: self._search(), names="value")
        self.model_results.observe(self._on_result, names="value")

        self.children = [
            self.title,
            labelled("Model", self.model_search),
            labelled("", self.model_results),
            labelled("", self.search_status),
            labelled("", self.user_id, self.app_id, self.model_field),
            self.model_msg,
            labelled("Version", self.version),
            labelled("", self.version_status),
            labelled("Deployment ID", self.deployment_id),
            self.id_msg,
            labelled("Description", self.description),
            labelled("Replicas", self.min_replicas, W.HTML("&nbsp;to&nbsp;"), self.max_replicas),
            labelled("Scale-up delay (s)", self.scale_up_delay),
            labelled("Scale-down delay (s)", self.scale_down_delay),
            labelled("Scale-to-zero delay (s)", self.scale_to_zero_delay),
            labelled("Traffic history (s)", self.traffic_history),
            self.disable_packing,
            self.autoscale_msg,
            labelled("Scheduling", self.scheduling),
            W.HTML(
                "<span style='font-size:85%'>One deployment per model per nodepool: a second "
                "deployment of the same model here is refused by the server.</span>"
            ),
            self.general_msg,
            W.HBox([self.action]),
            self.status,
            self.result,
        ]
        self.validate()
        self._search()  # the first page: the caller's own models, then public ones

    # --- searching ---------------------------------------------------------------------------

    def _search(self) -> None:
        """Search for the box's text, unless a search is in flight (it chases the box when it
        ends, so the list always ends up showing the last text typed)."""
        query = self.model_search.value.strip()
        if self.search_runner.busy or query == self._searched:
            return
        self.search_runner.run(
            self.client.search_models,
            query,
            SEARCH_PAGE,
            busy=f"Searching models for '{query}'…" if query else "Loading models…",
            done=lambda found, _s, q=query: self._found(q, found),
            failed=lambda _e, q=query: setattr(self, "_searched", q),
        )

    def _search_settled(self) -> None:
        if not self.search_runner.busy and self.model_search.value.strip() != self._searched:
            self._search()

    def _found(self, query: str, models: list[Any]) -> str:
        self._searched = query
        self.found = {_model_key(x.user_id, x.app_id, x.id): x for x in models}
        keep = self.model_results.value
        self._listing = True
        try:
            self.model_results.options = [(_model_option(x), k) for k, x in self.found.items()]
            self.model_results.value = keep if keep in self.found else None
        finally:
            self._listing = False
        n = len(models)
        if not n:
            return (
                f"No model matches '{query}': try fewer words, or type its owner, app and ID below."
            )
        shown = f"{plural(n, 'model')} match '{query}'" if query else plural(n, "model")
        return f"{shown}: choose one"

    # --- choosing ----------------------------------------------------------------------------

    def _on_result(self, change: dict) -> None:
        if self._listing or change["new"] is None:
            return
        self.choose(change["new"])

    def choose(self, key: str) -> None:
        """Pick the model ``owner/app/model`` of the results list (what a click on it does)."""
        model = self.found[key]
        self.chosen = model
        if self.model_results.value != key:
            self._listing = True
            try:
                self.model_results.value = key
            finally:
                self._listing = False
        self._filling = True
        try:
            self.user_id.value, self.app_id.value = model.user_id, model.app_id
            self.model_field.value = model.id
        finally:
            self._filling = False
        newest = model.model_version  # shown at once; the full list follows
        self._set_versions([newest] if newest is not None and newest.id else [])
        self._load_versions()

    def _on_hand_edit(self, _change: dict) -> None:
        if self._filling:
            return
        self.chosen = None
        if self.model_results.value is not None:
            self._listing = True
            try:
                self.model_results.value = None
            finally:
                self._listing = False
        self._load_versions()

    def _typed_key(self) -> str | None:
        parts = (self.user_id.value.strip(), self.app_id.value.strip(), self.model_field.value.strip())
        return _model_key(*parts) if all(parts) else None

    # --- versions ----------------------------------------------------------------------------

    def _set_versions(self, versions: list[Any]) -> None:
        options = [(_version_option(v, i == 0), v.id) for i, v in enumerate(versions) if v.id]
        if not options:
            options = [(NOT_PINNED, "")]
        self.version.options = options
        self.version.value = options[0][1]

    def _load_versions(self) -> None:
        """List the versions of the model the fields name now (the newest is preselected);
        chases the fields like `_search`."""
        key = self._typed_key()
        if self.version_runner.busy or key == self._versions_for:
            return
        if key is None:  # owner, app or model ID empty: nothing to look up
            self._versions_for = None
            self._set_versions([])
            self.version_status.clear()
            return
        user, app, model_id = key.split("/", 2)
        self.version_runner.run(
            self.client.list_model_versions,
            model_id,
            user,
            app,
            busy=f"Loading the versions of {model_id}…",
            done=lambda versions, _s, k=key: self._versions_loaded(k, versions),
            failed=lambda exc, k=key: self._versions_failed(k, exc),
        )

    def _versions_loaded(self, key: str, versions: list[Any]) -> str | None:
        self._versions_for = key
        self._set_versions(list(versions))
        return None if versions else "No versions listed for this model: it deploys unpinned."

    def _versions_failed(self, key: str, exc: BaseException) -> None:
        self._versions_for = key
        self._set_versions([])
        if getattr(exc, "code_name", "") == "MODEL_DOES_NOT_EXIST":
            owner, app, model_id = key.split("/", 2)
            self.version_status.show(
                f"No model '{model_id}' in app '{app}' of '{owner}' was found, so no versions "
                "to choose: check the IDs, or deploy it unpinned.",
            )

    def _versions_settled(self) -> None:
        key = self._typed_key()
        if not self.version_runner.busy and key != self._versions_for:
            self._load_versions()

    @property
    def pending(self) -> Any:
        for runner in (self.runner, self.search_runner, self.version_runner):
            if runner.pending is not None:
                return runner.pending
        return None

    # --- the deployment ----------------------------------------------------------------------

    def _on_id(self, _change: dict) -> None:
        if not self._setting_id:
            self._id_touched = True

    def _on_model(self, change: dict) -> None:
        if self._id_touched:
            return
        self._setting_id = True
        try:
            self.deployment_id.value = (
                _suggest_id(f"deploy-{change['new']}") if change["new"] else ""
            )
        finally:
            self._setting_id = False

    def deployment(self) -> Any:
        """The Deployment the form describes right now (not validated)."""
        m = _models()
        version = (self.version.value or "").strip()
        user = self.user_id.value.strip()
        return m.Deployment(
            id=self.deployment_id.value.strip(),
            user_id=getattr(self.client, "user_id", "") or user,
            description=self.description.value,
            autoscale_config=m.AutoscaleConfig(
                min_replicas=int(self.min_replicas.value),
                max_replicas=int(self.max_replicas.value),
                scale_up_delay_seconds=int(self.scale_up_delay.value),
                scale_down_delay_seconds=int(self.scale_down_delay.value),
                scale_to_zero_delay_seconds=int(self.scale_to_zero_delay.value),
                traffic_history_seconds=int(self.traffic_history.value),
                disable_packing=bool(self.disable_packing.value),
            ),
            nodepools=[
                m.Nodepool(
                    id=self.nodepool_id,
                    compute_cluster=m.ComputeCluster(
                        id=self.cluster_id, user_id=getattr(self.client, "user_id", "") or ""
                    ),
                )
            ],
            scheduling_choice=m.SchedulingChoice[self.scheduling.value]
            if self.scheduling.value
            else 0,
            worker=m.Worker(
                model=m.ModelRef(
                    id=self.model_field.value.strip(),
                    user_id=user,
                    app_id=self.app_id.value.strip(),
                    model_version=m.ModelVersion(id=version) if version else None,
                )
            ),
        )

    def _problems(self) -> list[Any]:
        problems = self.deployment().problems()
        areas = _route(
            problems,
            {
                "id": "id",
                "worker": "model",
                "autoscale_config": "autoscale",
                "description": "general",
            },
            DEPLOYMENT_WORDS,
        )
        started = self._id_touched or self.model_field.value or self.app_id.value
        set_message(self.id_msg, " ".join(areas.get("id", [])) if started else "")
        set_message(self.model_msg, " ".join(areas.get("model", [])) if started else "")
        set_message(self.autoscale_msg, " ".join(areas.get("autoscale", [])))
        set_message(self.general_msg, " ".join(areas.get("general", [])))
        return problems

    def validate(self, _change: Any = None) -> list[Any]:
        return super().validate()

    def _act(self) -> None:
        d = self.deployment()
        self.runner.run(
            self.client.create_deployment,
            d,
            busy=f"Creating deployment {d.id}…",
            done=self._created,
        )

    def _created(self, d: Any, seconds: float) -> str:
        self.created = d
        self.done = True
        self.action.description = "Deployed"
        a = d.autoscale_config
        m = d.worker.model if d.worker is not None else None
        version = m.model_version.id if m is not None and m.model_version is not None else ""
        choice = getattr(d.scheduling_choice, "name", "")
        rows = [
            ("Deployment", d.id),
            ("Nodepool", f"{self.cluster_id}/{self.nodepool_id}"),
            (
                "Model",
                " / ".join(x for x in (m.user_id, m.app_id, m.id) if x) if m is not None else "–",
            ),
            ("Version", version or NOT_PINNED.lower()),
            ("Replicas", f"{a.min_replicas} to {a.max_replicas}" if a is not None else "–"),
            ("Scheduling", SCHEDULING_WORDS.get(choice) or enum_label(d.scheduling_choice) or "–"),
        ]
        self.result.value = (
            f"<div class='{CSS_SUMMARY}'><b>Created deployment {esc(d.id)}</b>"
            + html_table(["", ""], rows, css="cw-summary-table")
            + ascode_html(deployment_command(d), yaml_text(d))
            + "</div>"
        )
        if self.on_created is not None:
            self.on_created(d)
        return f"Created deployment {d.id} in {took(seconds)}"

    def _text(self) -> str:
        if self.created is not None:
            return f"DeploymentWizard: created deployment {self.created.id} on {self.cluster_id}/{self.nodepool_id}\n{deployment_command(self.created)}"
        state = f"; {self.status.text}" if self.status.text else ""
        model = "/".join(
            x for x in (self.user_id.value, self.app_id.value, self.model_field.value) if x
        )
        return f"DeploymentWizard(nodepool={self.cluster_id}/{self.nodepool_id}, id={self.deployment_id.value!r}, model={model!r}){state}"

    def _html(self) -> str:
        if self.created is not None:
            return self.result.value
        return (
            f"<div class='cw-wizard'><b>Deployment wizard</b>: {esc(self._text())}"
            "<br><i>Run the notebook to use the interactive form.</i></div>"
        )
