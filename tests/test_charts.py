"""charts: figure data on simulator output (synthetic HISTORY/EVENTS until compute_widgets.sim
lands), downsampling bounds, exact step encoding, event positions, style, saved-notebook size,
and the live monitor (zoom re-downsampling, sync/async clients, stop, errors)."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from compute_widgets import charts
from compute_widgets.charts import OD_COLOR, SPOT_COLOR, expand_steps

MAX = charts.MAX_POINTS
STEP_COLS = (
    "nodes_ready_spot",
    "nodes_ready_od",
    "nodes_pending_spot",
    "nodes_pending_od",
    "nodes_draining_spot",
    "desired",
    "min_nodes",
    "max_nodes",
)
NAMES = {
    "nodes_ready_spot": "ready spot",
    "nodes_ready_od": "ready on-demand",
    "nodes_pending_spot": "pending spot",
    "nodes_pending_od": "pending on-demand",
    "nodes_draining_spot": "draining spot (preempted)",
    "desired": "desired",
    "min_nodes": "min",
    "max_nodes": "max",
    "nodes": "nodes",
}


# ------------------------------------------------------------------ data


def synthetic(
    days: float = 7.0,
    step: int = 10,
    seed: int = 0,
    split: bool = True,
    start: str = "2026-03-02T00:00:00Z",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A HISTORY/EVENTS pair shaped like the simulator's: diurnal demand, desired held >= 5 min,
    nodes ready after an 3-minute boot (pending meanwhile), 70 % spot, a PATCH of min and max."""
    rng = np.random.default_rng(seed)
    n = int(days * 86400 / step)
    idx = pd.date_range(start, periods=n, freq=f"{step}s", tz="UTC", name="timestamp")
    t = np.arange(n) * step
    demand = np.maximum(6 + 4 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.4, n), 0.5)
    min_nodes = np.where(t < t[-1] * 0.4, 1.0, 2.0)
    max_nodes = np.where(t < t[-1] * 0.6, 9.0, 12.0)
    desired = np.clip(np.ceil(demand), min_nodes, max_nodes)[(np.arange(n) // 30) * 30]
    lag = 18
    ready = np.minimum(desired, np.concatenate([np.full(lag, desired[0]), desired[:-lag]]))
    pending = desired - ready
    spot_r, spot_p = np.floor(ready * 0.7), np.floor(pending * 0.7)
    cpu = np.clip(demand / np.maximum(ready, 1) * 80 + rng.normal(0, 5, n), 0, 100)
    cpu[n // 3], cpu[n // 2] = 100.0, 0.0
    df = pd.DataFrame(
        {
            "nodes_ready_spot": spot_r,
            "nodes_ready_od": ready - spot_r,
            "nodes_pending_spot": spot_p,
            "nodes_pending_od": pending - spot_p,
            "nodes": ready + pending,
            "desired": desired,
            "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "cpu_util": cpu,
            "mem_util": np.clip(30 + 0.4 * cpu, 0, 100),
            "gpu_util": np.clip(cpu * 0.9 + rng.normal(0, 3, n), 0, 100),
            "gpu_mem_util": np.clip(50 + 0.2 * cpu, 0, 100),
            "queue": np.maximum(0, (demand - ready) * 20),
            "latency_s": 0.2 + np.maximum(0, demand - ready),
        },
        index=idx,
    )
    if not split:
        df = df.drop(columns=[c for c in df.columns if c.startswith("nodes_")])
    df["cost_rate_spot"] = (spot_r + spot_p) * 0.9
    df["cost_rate_od"] = (desired - spot_r - spot_p) * 3.0
    df["cost_rate_all_od"] = desired * 3.0
    df["cost_cum"] = ((df.cost_rate_spot + df.cost_rate_od) * step / 3600).cumsum()
    d = np.diff(desired)
    ch = np.flatnonzero(d) + 1
    kinds = np.where(d[ch - 1] > 0, "scale_up", "scale_down")
    ev = pd.DataFrame(
        {
            "timestamp": idx[ch],
            "kind": kinds,
            "count": np.abs(d[ch - 1]).astype(int),
            "capacity_type": "spot",
            "reason": "",
            "message": [
                f"{k.replace('_', ' ')} <b>by</b> {abs(int(c))}"
                for k, c in zip(kinds, d[ch - 1], strict=True)
            ],
        }
    )
    pre = pd.DataFrame(
        {
            "timestamp": idx[rng.choice(n, 5, replace=False)],
            "kind": "preemption",
            "count": 1,
            "capacity_type": "spot",
            "reason": "capacity reclaimed",
            "message": "spot node preempted",
        }
    )
    ev = pd.concat([ev, pre]).sort_values("timestamp").reset_index(drop=True)
    return df, ev


def _simulate(days: float, spot: bool, seed: int):
    """Real simulator output when compute_widgets.sim.simulate exists, else None."""
    try:
        from compute_widgets.sim import DeploymentSpec, PoolSpec, simulate
    except ImportError:
        return None
    pool = PoolSpec(
        instance_id="g5.xlarge",
        vcpu=4,
        memory_gib=16,
        gpus=1,
        gpu_memory_gib=24,
        price_od=1.006,
        price_spot=0.45,
        min_nodes=1,
        max_nodes=8,
        spot=spot,
        spot_hazard_per_hour=0.05,  # enough preemptions in a few days to chart
    )
    return simulate(
        pool, [DeploymentSpec(min_replicas=1, max_replicas=8)], duration=days * 86400, seed=seed
    )


class _Result:  # SimResult-like for compare() when the simulator is not there yet
    def __init__(self, history, events, kpis):
        self.history, self.events, self.kpis = history, events, kpis


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    res = _simulate(3, spot=True, seed=1)
    if res is not None:
        return res.history, res.events
    return synthetic(days=3)


def _ms(index) -> np.ndarray:
    return pd.DatetimeIndex(index).as_unit("ns").asi8 / 1e6


def _by_name(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data}


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, obj


# ------------------------------------------------------------------ scaling_history


def test_scaling_history_traces_and_exact_steps(data):
    hist, events = data
    fig = charts.scaling_history(hist, events)
    traces = _by_name(fig)
    x_all = _ms(hist.index)
    present = [c for c in STEP_COLS if c in hist.columns and (hist[c] > 0).any()]
    assert present, "frame has no step columns"
    for col in present:
        t = traces[NAMES[col]]
        assert t.line.shape == "hv"
        assert len(t.x) <= MAX
        assert len(t.x) < len(hist) / 5  # change points, not samples
        assert np.asarray(t.y).dtype == np.float32
        y = hist[col].to_numpy(dtype=np.float64)
        ok = ~np.isnan(y)
        re = expand_steps(np.asarray(t.x), np.asarray(t.y), x_all[ok])
        np.testing.assert_array_equal(re, y[ok].astype(np.float32))
    # stacked by capacity type, with one shared x (plotly stacks point by point)
    stacked = [t for t in fig.data if t.stackgroup == "nodes"]
    assert [t.name for t in stacked][:2] == ["ready spot", "ready on-demand"]
    assert all(np.array_equal(stacked[0].x, t.x) for t in stacked)
    assert traces["min"].line.dash == traces["max"].line.dash == "dash"
    assert traces["desired"].line.dash in (None, "solid")
    assert fig.layout.xaxis.rangeselector.buttons[-1].step == "all"
    labels = [b.label for b in fig.layout.xaxis.rangeselector.buttons]
    assert labels == ["6 h", "1 d", "7 d", "30 d", "all"]


def test_min_max_follow_patch_changes():
    hist, _ = synthetic(days=2)
    fig = charts.scaling_history(hist)
    t = _by_name(fig)
    # min changes once (1 -> 2) and max once (9 -> 12): exactly those change points plus edges
    assert sorted(set(np.asarray(t["min"].y).tolist())) == [1.0, 2.0]
    assert sorted(set(np.asarray(t["max"].y).tolist())) == [9.0, 12.0]
    assert len(t["min"].x) == len(t["max"].x) == 4  # first, run end, change, last


def test_event_markers_at_event_timestamps(data):
    hist, events = data
    fig = charts.scaling_history(hist, events)
    kinds = [k for k in charts.EVENT_STYLE if (events["kind"] == k).any()]
    assert kinds
    for kind in kinds:
        label = charts.EVENT_STYLE[kind][0]
        t = _by_name(fig)[label]
        assert t.mode == "markers"
        want = _ms(pd.to_datetime(events.loc[events["kind"] == kind, "timestamp"], utc=True))
        np.testing.assert_array_equal(np.sort(np.asarray(t.x)), np.sort(want))
        assert len(t.text) == len(want) and all(t.text)
    # hover text is escaped HTML from the message (no injected tags)
    assert all("<b>by</b>" not in s for t in fig.data if t.text for s in t.text)


def test_many_events_are_aggregated_per_hour():
    hist, _ = synthetic(days=2)
    ts = pd.date_range(hist.index[0], periods=1000, freq="90s")
    ev = pd.DataFrame(
        {
            "timestamp": ts,
            "kind": "preemption",
            "count": 1,
            "capacity_type": "spot",
            "reason": "",
            "message": "",
        }
    )
    t = _by_name(charts.scaling_history(hist, ev))["spot preemption"]
    hours = ts.floor("h").unique()
    assert len(t.x) == len(hours) < 300
    np.testing.assert_array_equal(np.asarray(t.x), _ms(hours))
    assert t.text[0] == "40 events, 40 nodes in this hour"
    # too many even per hour: coarser buckets, still under the cap
    ts = pd.date_range(hist.index[0], periods=2000, freq="15min")  # 500 hours
    many = pd.DataFrame({"timestamp": ts, "kind": "scale_up", "count": 2})
    t = _by_name(charts.scaling_history(hist, many))["scale up"]
    assert len(t.x) == len(ts.floor("3h").unique()) <= 300
    assert t.text[0] == "12 events, 24 nodes in this 3 hours"


def test_total_nodes_only_when_no_split():
    hist, _ = synthetic(days=1, split=False)
    fig = charts.scaling_history(hist)
    t = _by_name(fig)["nodes"]
    assert "ready spot" not in _by_name(fig)
    re = expand_steps(np.asarray(t.x), np.asarray(t.y), _ms(hist.index))
    np.testing.assert_array_equal(re, hist["nodes"].to_numpy(np.float32))


def test_scaling_history_accepts_timestamp_column_and_naive_times():
    hist, ev = synthetic(days=1)
    naive = hist.reset_index()
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None)
    a, b = charts.scaling_history(hist, ev), charts.scaling_history(naive, ev)
    assert a.to_json() == b.to_json()


# ------------------------------------------------------------------ utilization


def test_utilization_small_multiples_downsampled_with_extremes(data):
    hist, _ = data
    fig = charts.utilization(hist)
    cols = [
        c
        for c in ("cpu_util", "mem_util", "gpu_util", "gpu_mem_util")
        if c in hist.columns and hist[c].notna().any()
    ]
    assert [t.name for t in fig.data] == [
        {"cpu_util": "CPU", "mem_util": "Memory", "gpu_util": "GPU", "gpu_mem_util": "GPU memory"}[
            c
        ]
        for c in cols
    ]
    for i, (col, t) in enumerate(zip(cols, fig.data, strict=True), start=1):
        y = hist[col].dropna().to_numpy(np.float32)
        assert len(t.x) <= MAX
        if len(y) > MAX:
            assert len(t.x) > MAX * 0.9
        assert np.asarray(t.y).dtype == np.float32
        assert np.nanmax(t.y) == y.max() and np.nanmin(t.y) == y.min()
        assert np.all(np.diff(np.asarray(t.x)) > 0)
        ax = fig.layout[f"yaxis{'' if i == 1 else i}"]
        assert tuple(ax.range) == (0, 100) and "%" in ax.title.text
        assert t.type == "scatter"  # SVG, not WebGL
    assert all(
        fig.layout[f"xaxis{'' if i == 1 else i}"].type == "date" for i in range(1, len(cols) + 1)
    )


def test_utilization_long_series_keeps_spikes():
    hist, _ = synthetic(days=10)
    fig = charts.utilization(hist)
    cpu = fig.data[0]
    assert len(cpu.x) <= MAX < len(hist)
    spike_ms = _ms(hist.index[[len(hist) // 3, len(hist) // 2]])
    assert set(spike_ms) <= set(np.asarray(cpu.x))


def test_utilization_skips_missing_columns():
    hist, _ = synthetic(days=1)
    fig = charts.utilization(hist[["cpu_util", "mem_util"]].assign(gpu_util=np.nan))
    assert [t.name for t in fig.data] == ["CPU", "Memory"]
    assert "yaxis3" not in fig.to_plotly_json()["layout"]
    empty = charts.utilization(hist[["queue"]])
    assert not empty.data and "No utilization" in empty.layout.annotations[0].text


# ------------------------------------------------------------------ cost


def test_cost_stacked_rates_counterfactual_and_cumulative(data):
    hist, _ = data
    fig = charts.cost(hist)
    t = _by_name(fig)
    assert {
        "spot $/h",
        "on-demand $/h",
        "all on-demand (counterfactual)",
        "cumulative cost",
    } <= set(t)
    assert t["spot $/h"].stackgroup == t["on-demand $/h"].stackgroup == "rate"
    np.testing.assert_array_equal(t["spot $/h"].x, t["on-demand $/h"].x)
    assert t["all on-demand (counterfactual)"].line.dash == "dash"
    assert t["cumulative, all on-demand"].line.dash == "dash"
    assert t["spot $/h"].line.color == SPOT_COLOR and t["on-demand $/h"].line.color == OD_COLOR
    cum = t["cumulative cost"]
    assert float(cum.y[-1]) == pytest.approx(float(hist["cost_cum"].iloc[-1]), rel=1e-6)
    assert all(len(tr.x) <= MAX for tr in fig.data)
    assert fig.layout.yaxis.title.text == "cost rate ($/h)"
    assert fig.layout.yaxis2.title.text == "cumulative ($)"
    assert "all on-demand would be" in fig.layout.title.text


def test_cost_rate_steps_are_exact_when_piecewise_constant():
    hist, _ = synthetic(days=2)
    t = _by_name(charts.cost(hist))["spot $/h"]
    assert t.line.shape == "hv"
    re = expand_steps(np.asarray(t.x), np.asarray(t.y), _ms(hist.index))
    np.testing.assert_array_equal(re, hist["cost_rate_spot"].to_numpy(np.float32))


# ------------------------------------------------------------------ compare


def test_compare_side_by_side_with_kpi_table():
    ra, rb = _simulate(2, spot=True, seed=3), _simulate(2, spot=False, seed=3)
    if ra is None:
        ha, ea = synthetic(days=2, seed=3)
        hb, eb = synthetic(days=2, seed=4)
        ra = _Result(ha, ea, {"cost_per_week": 812.5, "spot_share": 0.7, "preemptions": 5})
        rb = _Result(hb, eb, {"cost_per_week": 1400.0, "spot_share": 0.0, "preemptions": 0})
    fig = charts.compare(ra, rb, names=("spot", "on-demand"))
    assert [a.text for a in fig.layout.annotations][:2] == ["spot", "on-demand"]
    table = [t for t in fig.data if t.type == "table"]
    assert len(table) == 1
    kpi_names = list(table[0].cells.values[0])
    # every KPI once, labelled for a person (charts.KPI_FORMAT), known ones in its order
    known = [charts.KPI_FORMAT[k][0] for k in charts.KPI_FORMAT if k in ra.kpis or k in rb.kpis]
    assert kpi_names[: len(known)] == known
    assert len(kpi_names) == len({*ra.kpis, *rb.kpis})
    assert list(table[0].header.values) == ["KPI", "spot", "on-demand", "on-demand − spot"]
    scat = [t for t in fig.data if t.type == "scatter"]
    for name in ("latency", "queue", "cumulative cost"):
        both = [t for t in scat if t.name == name]
        assert len(both) == 2 and [t.showlegend for t in both] == [True, False]
        assert both[0].xaxis != both[1].xaxis
    assert all(len(t.x) <= MAX for t in scat)


# ------------------------------------------------------------------ style and size


def _figures(hist, events):
    res = _Result(hist, events, {"cost_per_week": 1.0})
    return [
        charts.scaling_history(hist, events),
        charts.utilization(hist),
        charts.cost(hist),
        charts.compare(res, res),
    ]


def test_theme_neutral_style(data):
    hist, events = data
    for fig in _figures(hist, events):
        layout = json.loads(fig.to_json())["layout"]
        assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "rgba(0,0,0,0)"
        assert isinstance(layout["height"], int) and layout["height"] >= 300
        assert layout["title"]["text"]
        white = {"white", "#fff", "#ffffff", "rgb(255,255,255)", "rgba(255,255,255,1)"}
        for path, value in _walk(layout):
            if path.endswith(("bgcolor", "fill_color", "fillcolor")) or ".fill" in path:
                assert str(value).replace(" ", "").lower() not in white, path
        # our small template, not plotly's default (which paints a white/#E5ECF6 plot area)
        assert len(json.dumps(layout.get("template", {}))) < 2500
        assert "E5ECF6" not in fig.to_json()
        for t in fig.data:
            if t.type == "scatter":
                assert t.hovertemplate and "<extra>" in t.hovertemplate


def test_same_spot_and_on_demand_colour_in_every_chart(data):
    hist, events = data
    spot_colours, od_colours = set(), set()
    for fig in _figures(hist, events)[:3]:
        for t in fig.data:
            if t.type != "scatter" or t.mode == "markers":
                continue
            if "spot" in t.name:
                spot_colours.add(t.line.color)
            elif "on-demand" in t.name and "counterfactual" not in t.name:
                od_colours.add(t.line.color)
    assert spot_colours == {SPOT_COLOR} and od_colours == {OD_COLOR}
    assert charts.SPOT_PENDING_COLOR.startswith("rgba(230,159,0")  # lighter shade, same hue
    assert charts.OD_PENDING_COLOR.startswith("rgba(0,114,178")


def test_thirty_days_fit_the_json_budget():
    hist, events = synthetic(days=30)  # 259,200 rows per series
    sh, ut = charts.scaling_history(hist, events), charts.utilization(hist)
    size = len(sh.to_json()) + len(ut.to_json())
    assert size <= 300_000, size
    assert all(len(t.x) <= MAX for f in (sh, ut) for t in f.data)


@pytest.mark.slow
def test_saved_notebook_with_three_charts_under_1mb(tmp_path, data):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    hist, events = data
    hist.to_pickle(tmp_path / "history.pkl")
    events.to_pickle(tmp_path / "events.pkl")
    cells = [
        "import pandas as pd, plotly.io as pio\n"
        "from compute_widgets import charts\n"
        "pio.renderers.default = 'plotly_mimetype+notebook_connected'\n"
        "h, ev = pd.read_pickle('history.pkl'), pd.read_pickle('events.pkl')",
        "charts.scaling_history(h, ev).show()",
        "charts.utilization(h).show()",
        "charts.cost(h).show()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    path = tmp_path / "charts.ipynb"
    nbformat.write(nb, path)
    mimes = [
        set(o.get("data", {}))
        for c in nb.cells[1:]
        for o in c.outputs
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]
    assert len(mimes) == 3
    assert all({"application/vnd.plotly.v1+json", "text/html"} <= m for m in mimes)
    assert path.stat().st_size < 1_000_000, path.stat().st_size


# ------------------------------------------------------------------ live monitor

T0 = pd.Timestamp("2026-03-02T00:00:00Z")


class SyncSource:
    """A stand-in for ComputeClient's two read methods, serving one fixed frame by time range."""

    def __init__(self, hist: pd.DataFrame, events: pd.DataFrame):
        self.hist, self.events = hist, events
        self.calls: list[tuple] = []
        self.fail = False

    def nodepool_history(self, cc_id, np_id, start, end, resolution="5m"):
        self.calls.append((cc_id, np_id, start, end, resolution))
        if self.fail:
            raise ConnectionError("control plane unreachable")
        return self.hist.loc[start:end]

    def nodepool_events(self, cc_id, np_id, start=None, end=None):
        ts = self.events["timestamp"]
        return self.events[(ts >= start) & (ts <= end)]


class AsyncSource(SyncSource):
    async def nodepool_history(self, *a, **kw):
        await asyncio.sleep(0)
        return SyncSource.nodepool_history(self, *a, **kw)

    async def nodepool_events(self, *a, **kw):
        return SyncSource.nodepool_events(self, *a, **kw)


async def _until(cond, timeout=20.0):
    async def poll():
        while not cond():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture(scope="module")
def day():
    return synthetic(days=1.5)


@pytest.mark.parametrize("source_cls", [SyncSource, AsyncSource])
async def test_live_monitor_refreshes_and_stops(day, source_cls):
    src = source_cls(*day)
    now = (T0 + pd.Timedelta("1D")).to_pydatetime()
    mon = charts.live_monitor(src, "cc1", "np1", interval=0.01, window="1d", now=lambda: now)
    assert isinstance(mon.figure, go.FigureWidget) and mon.running
    await _until(lambda: mon.refreshes >= 2)
    cc, np_id, start, end, res = src.calls[0]
    assert (cc, np_id, end - start, res) == ("cc1", "np1", timedelta(days=1), "5m")
    names = [t.name for t in mon.figure.data]
    assert {"ready spot", "desired", "CPU util", "scale up"} <= set(names)
    assert all(len(t.x) <= MAX for t in mon.figure.data)
    assert "updated" in mon.figure.layout.title.text
    mon.stop()
    assert not mon.running and "stopped" in mon.figure.layout.title.text
    n = mon.refreshes
    await asyncio.sleep(0.05)
    assert mon.refreshes == n


async def test_live_monitor_redownsamples_on_zoom(day):
    src = SyncSource(*day)
    now = (T0 + pd.Timedelta("1D")).to_pydatetime()
    mon = charts.LiveMonitor(src, "cc", "np", window="1d", resolution="10s", now=lambda: now)
    await mon.refresh()
    cpu = lambda: _by_name(mon.figure)["CPU util"]  # noqa: E731
    assert len(cpu().x) <= MAX < 8640
    # zoom to one hour: every raw sample in view comes back (360 points + the two edges)
    a, b = T0 + pd.Timedelta("10h"), T0 + pd.Timedelta("11h")
    mon.figure.layout.xaxis3.range = [a.strftime("%Y-%m-%d %H:%M:%S"), b.isoformat()]
    assert mon.view == (a, b)
    x = np.asarray(cpu().x)
    raw = day[0].loc[a:b, "cpu_util"]
    assert len(x) == len(raw) + 2
    np.testing.assert_array_equal(np.asarray(cpu().y)[1:-1], raw.to_numpy(np.float32))
    ready = _by_name(mon.figure)["ready spot"]
    assert np.asarray(ready.x).min() <= a.value / 1e6 and np.asarray(ready.x).max() >= b.value / 1e6
    # a numeric (ms) range from the browser works too; autorange resets to the whole window
    mon.figure.layout.xaxis3.range = [a.value / 1e6, (a + pd.Timedelta("30min")).value / 1e6]
    assert len(cpu().x) == 180 + 1 + 2
    mon.figure.layout.xaxis3.autorange = True
    assert mon.view is None and len(cpu().x) > 1000


async def test_live_monitor_does_not_block_the_loop(day):
    gate = threading.Event()

    class Slow(SyncSource):
        def nodepool_history(self, *a, **kw):
            gate.wait(10)
            return super().nodepool_history(*a, **kw)

    now = (T0 + pd.Timedelta("6h")).to_pydatetime()
    mon = charts.live_monitor(Slow(*day), "cc", "np", interval=0.01, now=lambda: now)
    ticks = 0
    for _ in range(5):  # the loop keeps running while the fetch waits in a worker thread
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 5 and mon.refreshes == 0 and "loading" in mon.figure.layout.title.text
    gate.set()
    await _until(lambda: mon.refreshes >= 1)
    mon.stop()


async def test_live_monitor_survives_errors(day):
    src = SyncSource(*day)
    src.fail = True
    now = (T0 + pd.Timedelta("6h")).to_pydatetime()
    mon = charts.live_monitor(src, "cc", "np", interval=0.01, window="6h", now=lambda: now)
    await _until(lambda: len(src.calls) >= 2)
    assert mon.running and mon.refreshes == 0
    assert "ConnectionError: control plane unreachable" in mon.last_error
    assert "error" in mon.figure.layout.title.text
    src.fail = False
    await _until(lambda: mon.refreshes >= 1)
    assert mon.last_error is None
    mon.stop()


def test_live_monitor_without_loop_warns_and_stays_stopped(day):
    with pytest.warns(UserWarning, match="no running asyncio loop"):
        mon = charts.live_monitor(SyncSource(*day), "cc", "np")
    assert not mon.running and "np" in repr(mon)


def test_auto_resolution():
    assert charts.auto_resolution(6 * 3600) == "30s"
    assert charts.auto_resolution(86400) == "5m"
    assert charts.auto_resolution(30 * 86400) == "1h"


def test_change_points_roundtrip_with_nans():
    y = np.array([1, 1, np.nan, np.nan, 2, 2, 2, 3], dtype=float)
    idx = charts.change_points(y)
    assert idx.tolist() == [0, 2, 4, 7]
    np.testing.assert_array_equal(expand_steps(idx, y[idx], np.arange(8)), y)
