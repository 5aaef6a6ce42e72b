"""`%compute wizard|browse|chart|monitor|plan`: the widgets, charts and the what-if planner."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.parsing import positive_int

KINDS = ("utilization", "scaling", "cost")


def duration(text: str) -> float:
    """`7d`, `36h`, `1d12h`, `90m`, `3600` -> seconds (argparse type): the one duration grammar,
    api.models.parse_duration, with units in any case (`7D`)."""
    from compute_widgets.api.models import parse_duration

    try:
        seconds = parse_duration(text.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 7d, 36h or 90m, got {text!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the duration must be > 0, got {text!r}")
    return seconds


def _pool_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="CC NP", help="cluster and nodepool IDs")


def _pool(magics: Any, ids: list[str], what: str) -> tuple[str, str]:
    from compute_widgets.magics.cmd_nodepools import split_ids

    return split_ids(magics, ids, what)


# --- wizard -------------------------------------------------------------------------------
def build_wizard(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what", nargs="?", default="cluster", choices=("cluster", "nodepool", "deployment")
    )
    p.add_argument("ids", nargs="*", metavar="CC [NP]", help="nodepool: CC; deployment: CC NP")


def run_wizard(magics: Any, args: argparse.Namespace) -> Any:
    """The create wizard: `wizard [cluster | nodepool CC | deployment CC NP]` (a widget)."""
    from compute_widgets import widgets

    client = magics.get_client()
    need = {"cluster": 0, "nodepool": 1, "deployment": 2}[args.what]
    ids = list(args.ids)
    if need and len(ids) == need - 1 and magics.default_cluster:
        ids = [magics.default_cluster]
    if len(ids) != need:
        usage = {"nodepool": "wizard nodepool CC", "deployment": "wizard deployment CC NP"}
        raise UsageError(
            f"`{usage.get(args.what, 'wizard cluster')}` takes {need} ID(s), got {len(ids)}"
        )
    if args.what == "cluster":
        return widgets.ClusterWizard(client)
    if args.what == "nodepool":
        return widgets.NodepoolWizard(client.get_cluster(ids[0]), client)
    return widgets.DeploymentWizard((ids[0], ids[1]), client)


# --- browse -------------------------------------------------------------------------------
def build_browse(p: argparse.ArgumentParser) -> None:
    pass


def run_browse(magics: Any, args: argparse.Namespace) -> Any:
    """Browse clusters -> nodepools -> deployments (a widget)."""
    from compute_widgets import widgets

    return widgets.ComputeBrowser(magics.get_client())


# --- chart --------------------------------------------------------------------------------
def build_chart(p: argparse.ArgumentParser) -> None:
    _pool_args(p)
    p.add_argument("--range", type=duration, default=duration("7d"), help="window, e.g. 7d, 6h")
    p.add_argument("--kind", choices=KINDS, default="utilization", help="default utilization")
    p.add_argument("--resolution", default=None, help="step, e.g. 5m (default: from the range)")


def run_chart(magics: Any, args: argparse.Namespace) -> Any:
    """A nodepool chart over a time range: `CC NP [--range 7d] [--kind utilization|scaling|cost]`."""
    from compute_widgets import charts

    cc, np_id = _pool(magics, args.ids, "`chart`")
    client = magics.get_client()
    from compute_widgets import _warm
    from compute_widgets.magics.progress import Progress

    progress = Progress(enabled=magics.show_progress and _warm.server_warm(client) is False)
    progress.update(f"reading the history: {_warm.SERVER_COMPILING}…")  # a wait: say why
    end = client_now(client)
    start = end - timedelta(seconds=args.range)
    resolution = args.resolution or auto_resolution(args.range)
    history = client.nodepool_history(cc, np_id, start, end, resolution=resolution)
    progress.finish(f"read {len(history)} samples of {cc}/{np_id}")
    title = f"{cc}/{np_id}"
    if args.kind == "utilization":
        return charts.utilization(history, title=title)
    if args.kind == "cost":
        return charts.cost(history, title=title)
    events = client.nodepool_events(cc, np_id, start, end)
    return charts.scaling_history(history, events, title=title)


def auto_resolution(seconds: float) -> str:
    """About 500-2,000 points per series whatever the range."""
    for step, label in ((60, "1m"), (300, "5m"), (900, "15m"), (3600, "1h")):
        if seconds / step <= 2000:
            return label
    return "6h"


def client_now(client: Any) -> Any:
    """The backend's clock (the local plane can be fast-forwarded), else wall clock."""
    from datetime import UTC, datetime

    if getattr(client, "is_local", False):
        return client.server_time()
    return datetime.now(UTC)


# --- monitor ------------------------------------------------------------------------------
def build_monitor(p: argparse.ArgumentParser) -> None:
    _pool_args(p)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between refreshes")


def run_monitor(magics: Any, args: argparse.Namespace) -> Any:
    """A live chart of a nodepool (stopped by `%unload_ext` or its own stop button)."""
    from compute_widgets import charts

    cc, np_id = _pool(magics, args.ids, "`monitor`")
    monitor = charts.live_monitor(magics.get_client(), cc, np_id, interval=args.interval)
    magics.track_monitor(monitor)
    return monitor


# --- plan ---------------------------------------------------------------------------------
def build_plan(p: argparse.ArgumentParser) -> None:
    _pool_args(p)
    p.add_argument("--min", type=positive_int, dest="min_instances", help="proposed min nodes")
    p.add_argument("--max", type=positive_int, dest="max_instances", help="proposed max nodes")
    spot = p.add_mutually_exclusive_group()
    spot.add_argument("--spot", dest="spot", action="store_true", default=None, help="spot, on-demand fallback")
    spot.add_argument("--no-spot", dest="spot", action="store_false", help="on-demand only")
    p.add_argument("--duration", type=duration, default=duration("7d"), help="simulated time (7d)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed")


def run_plan(magics: Any, args: argparse.Namespace) -> Any:
    """What-if: simulate current vs proposed settings: `CC NP --min 0 --max 8 [--spot|--no-spot] [--duration 7d]`."""
    from IPython.display import display

    from compute_widgets.magics.cmd_nodepools import instance_type
    from compute_widgets.magics.progress import Progress

    if args.min_instances is None and args.max_instances is None and args.spot is None:
        raise UsageError("`plan` needs a change to try: --min, --max, --spot or --no-spot")
    cc, np_id = _pool(magics, args.ids, "`plan`")
    client = magics.get_client()
    progress = Progress(total=4, enabled=magics.show_progress)
    progress.step(f"reading nodepool {cc}/{np_id}")
    current = client.get_nodepool(cc, np_id)
    cluster = client.get_cluster(cc)  # its cloud decides the spot notice, as in the Planner
    instance = instance_type(client, cc, current.instance_type_id)
    deployments = client.list_deployments(nodepool_id=np_id, compute_cluster_id=cc)

    from compute_widgets import charts, sim

    updates: dict[str, Any] = {}
    if args.min_instances is not None:
        updates["min_instances"] = args.min_instances
    if args.max_instances is not None:
        updates["max_instances"] = args.max_instances
    if args.spot is not None:
        updates["node_capacity_type"] = instance.capacity_types_for(args.spot)
    proposed = current.model_copy(update=updates)
    proposed.check()
    from compute_widgets import _warm

    wait = [] if _warm.ready() else [f". {_warm.COMPILING}"]  # numba's first compile: say so

    def on_run(label: str) -> None:
        progress.step(f"simulating {label} settings ({args.duration / 86400:g} days){''.join(wait)}")
        wait.clear()

    def spec(np: Any) -> Any:
        return sim.pool_spec_from(np, instance, cluster=cluster)

    w = sim.what_if(spec(current), spec(proposed), deployments, duration=args.duration, seed=args.seed, on_run=on_run)
    runs = [w.current, w.proposed]
    progress.step("comparing")
    names = w.names
    # the KPIs once: the figure has no table; the returned frame displays as the formatted table
    figure = charts.compare(
        runs[0], runs[1], names=names, title=f"What-if: {cc}/{np_id}", table=False
    )
    progress.finish(f"plan for {cc}/{np_id}: simulated {args.duration / 86400:g} days twice")
    display(figure)
    note = charts.unchanged_note(runs[0].history, runs[0].kpis, runs[1].kpis, proposed)
    return charts.kpi_table(w.kpis, note)
