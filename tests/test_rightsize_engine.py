"""The right-sizing engine (issue 16): traffic in, the search, the front, the choice.

Real parts only: instance types come from a real local control plane's catalog, history from
its PostMetricsQuery, the simulation from the numba kernel. Seeds and the simulated start are
pinned; nothing is timed.
"""

from __future__ import annotations

import html
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from compute_widgets.rightsize import (
    SCORES,
    TrafficError,
    recommend,
    traffic_from,
)
from compute_widgets.sim import DeploymentSpec, Workload, pool_spec_from, simulate

GPU_TYPES = ["g4dn.xlarge", "g5.xlarge"]
LLM = DeploymentSpec(max_replicas=50, replica_gpu_mem_gib=10.0, name="llm")
# replicas that follow demand within 30 s: then nodes kept warm (min_nodes) can absorb bursts
LLM_FAST = replace(LLM, scale_up_delay_s=30.0)


# ---- the front equals a brute-force search ------------------------------------------------------


def _brute_force_scores(profile, it, min_nodes, max_nodes, spot, delay, seeds, target_s):
    """One candidate scored the slow way: simulate() per seed, scores read from its frames.

    The documented rules, written again here: the trace's last hour is played first as a
    warm-up and not scored; wait = deployment latency - service time; percentiles weighted by
    requests, seeds pooled; cost scaled to 730 h; preemptions counted after the warm-up.
    """
    rates = profile.rates.to_numpy(dtype=np.float64)
    warm_steps = int(min(3600.0, profile.duration_s) // 60.0) * 6
    trace = np.concatenate([rates[len(rates) - warm_steps :], rates])
    warm_s = warm_steps * profile.step
    workload = Workload(trace=pd.Series(trace, index=np.arange(len(trace)) * profile.step))
    pool = pool_spec_from({"instance_types": [it.to_wire()]}, it).with_(
        min_nodes=min_nodes, max_nodes=max_nodes, spot=spot
    )
    dep = replace(LLM, replica_gpus=1.0, scale_down_delay_s=delay, scale_to_zero_delay_s=max(3600.0, delay))
    service = dep.resolved(pool).service_s
    start = datetime(2026, 1, 5, tzinfo=UTC) - timedelta(seconds=warm_s)
    waits, reqs, cost, cold, over, pre = [], [], 0.0, 0.0, 0.0, 0.0
    for seed in seeds:
        r = simulate(pool, [dep], workload, duration=profile.duration_s + warm_s, step=profile.step,
                     seed=seed, start=start, record_every=6)  # fmt: skip
        scored = r.history.index >= pd.Timestamp(start) + pd.Timedelta(seconds=warm_s)
        h, d = r.history[scored], r.deployments["llm"][scored]
        wait = np.maximum(d["latency_s"].to_numpy() - service, 0.0)
        req = d["requests"].to_numpy()
        waits.append(wait)
        reqs.append(req)
        cost += (h["node_seconds_spot"].sum() * pool.price_spot + h["node_seconds_od"].sum() * pool.price_od) / 3600
        cold += req[d["replicas"].to_numpy() < 0.5].sum()
        over += ((wait > target_s) & (req > 0)).sum()
        ev = r.events[(r.events["kind"] == "preemption") & (r.events["timestamp"] >= pd.Timestamp(datetime(2026, 1, 5, tzinfo=UTC)))]
        pre += ev["count"].sum()
    w, q = np.concatenate(waits), np.concatenate(reqs)
    order = np.argsort(w, kind="stable")
    cum = np.cumsum(q[order])

    def pct(p):
        return float(w[order][np.searchsorted(cum, p * cum[-1])]) if cum[-1] > 0 else 0.0

    n = len(seeds)
    scored_s = len(h) * 60.0
    return {
        "monthly_cost": cost / n * 730 * 3600 / scored_s,
        "p50_s": pct(0.5),
        "p95_s": pct(0.95),
        "p99_s": pct(0.99),
        "minutes_over_target": over / n,
        "cold_start_requests": cold / n,
        "spot_interruptions": pre / n,
    }


def _dominated(i, cost, p95):
    return any(
        cost[j] <= cost[i] and p95[j] <= p95[i] and (cost[j] < cost[i] or p95[j] < p95[i])
        for j in range(len(cost))
    )


def test_front_equals_brute_force_over_every_candidate(client):
    profile = traffic_from("bursty", range="1d", rps=4.0)
    grid = dict(min_nodes=(0, 1), max_nodes=(2, 8), capacity=("spot", "on_demand"), scale_down_delays=(60, 900))
    seeds = (0, 1)
    rec = recommend(traffic=profile, client=client, provider="aws", region="us-east-1", instance_types=GPU_TYPES,
                    deployments=[LLM], seeds=seeds, holdout_seeds=(), target_p95="450s", **grid)  # fmt: skip
    assert len(rec.candidates) == 2 * 2 * 2 * 2 * 2
    types = {t.id: t for t in client.list_instance_types("aws", "us-east-1")}
    brute = []
    for _, row in rec.candidates.iterrows():
        s = _brute_force_scores(profile, types[row["instance_type"]], row["min_nodes"], row["max_nodes"],
                                row["spot"], row["scale_down_delay_s"], seeds, 450.0)  # fmt: skip
        brute.append(s)
        for k in SCORES:  # the batch engine scores each candidate exactly as simulate() does
            assert math.isclose(row[k], s[k], rel_tol=1e-9, abs_tol=1e-9), (k, row[k], s[k])
    cost = [b["monthly_cost"] for b in brute]
    p95 = [b["p95_s"] for b in brute]
    truth = {i for i in range(len(brute)) if not _dominated(i, cost, p95)}
    assert set(rec.front.index) == truth  # none missed, none dominated kept
    assert list(rec.candidates.index[rec.candidates["on_front"]]) == sorted(truth)
    assert rec.front["monthly_cost"].is_monotonic_increasing
    # a real trade-off: the front spans cheap-and-slow to dear-and-fast
    assert len(truth) >= 2 and rec.front["p95_s"].iloc[0] > rec.front["p95_s"].iloc[-1]
    best = rec.best
    meeting = [i for i in range(len(brute)) if brute[i]["p95_s"] <= 450.0]
    tail = [(b["p99_s"], b["minutes_over_target"]) for b in brute]
    assert best is not None and int(best.row.name) == min(meeting, key=lambda i: (cost[i], p95[i], *tail[i], i))


# ---- the choice holds on held-out seeds ---------------------------------------------------------


@pytest.mark.parametrize("pattern", ["steady", "diurnal", "bursty", "weekday-weekend"])
def test_cheapest_meeting_candidate_meets_on_holdout_seeds(client, pattern):
    rec = recommend(traffic=traffic_from(pattern, range="7d", rps=3.0), client=client, provider="aws",
                    region="us-east-1", instance_types=GPU_TYPES, deployments=[LLM_FAST], min_nodes=(0, 2, 4, 8),
                    max_nodes=(4, 8, 12), scale_down_delays=(300,), target_p95="2s", seeds=(0, 1, 2),
                    holdout_seeds=(100, 101, 102))  # fmt: skip
    best = rec.best
    assert best is not None, rec.binding
    s = best.stability
    assert s["seeds"] == [100, 101, 102]
    assert s["meets_on_all"], s
    assert all(v <= 2.0 for v in s["p95_s"]) and s["p95_spread_s"] == max(s["p95_s"]) - min(s["p95_s"])
    # nothing cheaper met the target on the search seeds
    cheaper = rec.candidates[rec.candidates["monthly_cost"] < best.row["monthly_cost"]]
    assert not cheaper["meets_target"].any()
    assert best.row["on_front"]


def test_no_candidate_meets_says_what_binds_and_by_how_much(client):
    # a target no pool can meet: one g4dn node at most, four times its traffic
    rec = recommend(traffic=traffic_from("steady", range="1d", rps=12.0), client=client, provider="aws",
                    region="us-east-1", instance_types=["g4dn.xlarge"], deployments=[LLM], min_nodes=(0, 1),
                    max_nodes=(1, 2), scale_down_delays=(300,), target_p95="2s", seeds=(0,), holdout_seeds=())  # fmt: skip
    assert rec.best is None and rec.patch() == {}
    closest = rec.candidates.sort_values("p95_s").iloc[0]
    assert f"misses by {closest['p95_s'] - 2.0:.2f} s" in rec.binding
    assert "Binding: max_nodes (2 is the largest tried for g4dn.xlarge, and each larger ceiling still helped)" in rec.binding


# ---- bad traffic gets one clear line ---------------------------------------------------------------


def _idx(n, start="2026-01-05", freq="1min"):
    return pd.date_range(start, periods=n, freq=freq, tz="UTC")


BAD = [
    (pd.Series([], dtype=float), "Series is empty: give at least one rate sample"),
    (pd.Series([1.0, float("nan"), 2.0], index=_idx(3)), "missing rate (NaN) at 2026-01-05 00:01:00+00:00: fill it"),
    (pd.Series([1.0, -2.0, 2.0], index=_idx(3)), "negative rate (-2) at 2026-01-05 00:01:00+00:00: rates are requests/second"),
    (pd.Series([1.0, 2.0, 3.0], index=_idx(3)[[0, 2, 1]]), "not sorted by time (at 2026-01-05 00:01:00+00:00): sort it"),
    (pd.Series([1.0] * 4, index=_idx(4)[[0, 1, 2]].append(_idx(1, "2026-01-05 05:00"))),
     "gap of 17880 s after 2026-01-05 00:02:00+00:00 (samples are 60 s apart): fill it"),
    (pd.Series(pd.to_datetime(["2026-01-05 00:00:05", "2026-01-05 00:00:01"], utc=True)),
     "is not sorted (row 1, 2026-01-05 00:00:01+00:00, comes before the row above it): sort the requests by time"),
    (pd.DataFrame({"when": [1, 2], "count": [3, 4]}),
     "DataFrame has columns ['when', 'count']: give a rate column (rps, rate, requests_per_second)"),
    ("hourly", "traffic='hourly' is neither a pattern (steady, diurnal, bursty, weekday-weekend) nor a file"),
    (pd.Series(["a", "b"]), "Series holds str values: give request rates as numbers"),
    (42, "traffic=int: give a pattern name"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "message"), BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_bad_traffic_gets_one_clear_line(source, message):
    with pytest.raises(TrafficError) as e:
        traffic_from(source)
    text = str(e.value)
    assert message in text and "\n" not in text
    assert isinstance(e.value, ValueError)


def test_bad_csv_names_its_columns_and_a_good_one_reads(tmp_path):
    bad = tmp_path / "traffic.csv"
    bad.write_text("when,how_many\n2026-01-05T00:00:00Z,3\n")
    with pytest.raises(TrafficError, match=r"traffic.csv has columns \['when', 'how_many'\]: give a rate column"):
        traffic_from(str(bad))
    good = tmp_path / "rates.csv"
    good.write_text("timestamp,rps\n2026-01-05T00:00:00Z,2\n2026-01-05T00:01:00Z,4\n2026-01-05T00:02:00Z,0\n")
    p = traffic_from(good)
    # each one-minute sample holds over its six 10 s steps
    assert list(p.rates.to_numpy()) == [2.0] * 6 + [4.0] * 6 + [0.0] * 6
    assert p.duration_s == 180.0 and p.rates.index[0] == pd.Timestamp("2026-01-05T00:00:00Z")


def test_a_profile_at_another_step_is_resampled_and_too_short_traffic_is_refused(client):
    p = traffic_from(pd.Series([1.0, 3.0], index=_idx(2)), step=30.0)
    assert list(p.rates.to_numpy()) == [1.0, 1.0, 3.0, 3.0]
    assert list(traffic_from(p, step=60.0).rates.to_numpy()) == [1.0, 3.0]
    with pytest.raises(TrafficError, match=r"lasts 20 s: give at least 60 s \(one scored minute\)"):
        recommend(traffic=pd.Series([1.0, 2.0], index=_idx(2, freq="10s")), client=client, provider="aws",
                  region="us-east-1", deployments=[LLM])  # fmt: skip


def test_rates_from_request_timestamps_count_per_step():
    stamps = pd.Series(pd.to_datetime(["2026-01-05 00:00:01", "2026-01-05 00:00:02", "2026-01-05 00:00:09",
                                       "2026-01-05 00:00:25"], utc=True))  # fmt: skip
    p = traffic_from(stamps, step=10.0)
    assert list(p.rates.to_numpy()) == [0.3, 0.0, 0.1]  # 3 requests in the first 10 s, 1 in the third


def test_patterns_have_the_asked_mean_and_shape():
    for name in ("steady", "diurnal", "bursty", "weekday-weekend"):
        p = traffic_from(name, range="7d", rps=5.0)
        assert p.duration_s == 7 * 86400 and math.isclose(p.mean_rps, 5.0, rel_tol=1e-9)
    weekly = traffic_from("weekday-weekend", range="7d").rates
    assert weekly[weekly.index.day_of_week >= 5].mean() < 0.5 * weekly[weekly.index.day_of_week < 5].mean()
    assert traffic_from("bursty", range="7d").peak_rps > 1.8 * traffic_from("bursty", range="7d").mean_rps


# ---- traffic from a real nodepool's recorded history ------------------------------------------------


@pytest.fixture
def busy_pool(fresh_server):
    """A fresh control plane with an over-provisioned GPU pool serving 2 rps for 6 hours."""
    from compute_widgets.api import models as m
    from compute_widgets.api.client import ComputeClient

    with ComputeClient(fresh_server.url, fresh_server.token, user_id="me") as c:
        c.create_cluster(m.ComputeCluster(id="cc", cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"))
        t = next(t for t in c.list_instance_types("aws", "us-east-1") if t.id == "g5.2xlarge")
        c.create_nodepool("cc", m.Nodepool(id="busy", instance_types=[t], min_instances=4, max_instances=8,
                                           node_capacity_type=m.NodeCapacityType.for_choice(False)))  # fmt: skip
        c.create_deployment(m.Deployment(
            id="llm",
            worker=m.Worker(model=m.ModelRef(id="llama-3-8b", user_id="me", app_id="demo")),
            nodepools=[m.Nodepool(id="busy", compute_cluster=m.ComputeCluster(id="cc", user_id="me"))],
            autoscale_config=m.AutoscaleConfig(min_replicas=0, max_replicas=8, scale_down_delay_seconds=300,
                                               scale_to_zero_delay_seconds=3600),
            metadata={"workload": {"base_rps": 2.0, "diurnal_amplitude": 0.0, "bursts_per_day": 0.0}},
        ))  # fmt: skip
        c.advance_clock(6 * 3600)
        yield c


def test_traffic_from_a_real_nodepools_history(busy_pool):
    c = busy_pool
    p = traffic_from("cc/busy", client=c, range="6h")
    assert p.source == "nodepool cc/busy history (6h)"
    assert 5.5 * 3600 <= p.duration_s <= 6 * 3600 + 60
    assert abs(p.mean_rps - 2.0) < 0.1  # the deployment's 2 rps, Poisson arrivals
    # the same requests the server counted, to the request
    hist = c.query_metrics("MODEL_REQUEST_COUNT", start=timedelta(hours=6), resolution="1m",
                           filters={"COMPUTE_CLUSTER_ID": "cc", "NODEPOOL_ID": "busy"})  # fmt: skip
    assert math.isclose(float((p.rates * p.step).sum()), float(hist["value"].sum()), rel_tol=1e-9)


def test_recommend_for_an_over_provisioned_nodepool(busy_pool):
    c = busy_pool
    rec = recommend("cc/busy", client=c, range="6h", instance_types=["g5.2xlarge", "g5.xlarge"], min_nodes=(0, 1, 4),
                    max_nodes=(4, 8), capacity=("on_demand",), scale_down_delays=(300,), seeds=(0,),
                    holdout_seeds=(100,))  # fmt: skip
    cur, best = rec.current, rec.best
    assert cur is not None and cur.row["instance_type"] == "g5.2xlarge" and cur.row["min_nodes"] == 4
    assert best is not None and best.row["monthly_cost"] < cur.row["monthly_cost"]
    # 4 nodes always on for ~2 replicas' work: min 4 is what costs, the recommendation drops it
    assert best.row["min_nodes"] < 4
    lo, hi = int(best.row["min_nodes"]), int(best.row["max_nodes"])
    if best.row["instance_type"] == "g5.2xlarge":  # same type: patch only what changes
        assert rec.patch() == {"min_instances": lo, **({"max_instances": hi} if hi != 8 else {})}
        assert best.command == f"%compute nodepools scale cc busy --min {lo} --max {hi}"
    else:  # another type: a new nodepool beside this one
        assert rec.patch()["instance_types"] == [{"id": best.row["instance_type"]}]
        slug = best.row["instance_type"].replace(".", "-")
        assert best.command == (f"%compute nodepools create cc busy-{slug} --instance {best.row['instance_type']} "
                                f"--min {lo} --max {hi} --description 'right-sized: {best.settings}'")  # fmt: skip
    assert f"max_instances: {hi}" in best.yaml and "id: cc" in best.yaml
    assert rec.assumptions["provisioning_delay_s"] == 300.0
    assert rec.assumptions["traffic"] == "nodepool cc/busy history (6h)"


# ---- Dask gives the same front ------------------------------------------------------------------------


def test_dask_executor_gives_the_same_front_as_in_process(client):
    import distributed  # the test extra installs it: a missing one fails, it does not skip
    kw = dict(traffic=traffic_from("bursty", range="1d", rps=4.0), client=client, provider="aws", region="us-east-1",
              instance_types=GPU_TYPES, deployments=[LLM], min_nodes=(0, 1), max_nodes=(2, 8),
              scale_down_delays=(60, 900), seeds=(0, 1), holdout_seeds=(100,), target_p95="450s")  # fmt: skip
    here = recommend(**kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as dc:  # fmt: skip
        there = recommend(executor=dc.get_executor(), **kw)
    pd.testing.assert_frame_equal(here.candidates, there.candidates)
    pd.testing.assert_frame_equal(here.front, there.front)
    assert here.best.stability == there.best.stability


def test_provisioning_hint_names_the_saving_and_is_cached(busy_pool):
    from compute_widgets.rightsize import provisioning_hint

    line = provisioning_hint(busy_pool, "cc", "busy")
    assert line is not None and line.startswith("Over-provisioned: g5.2xlarge, ")
    saving = float(line.split("for $")[1].split("/month less")[0].replace(",", ""))
    # the saving is the current pool's cost minus the recommended one's, from the same search
    rec = recommend("cc/busy", client=busy_pool, target_p95=2.0, range="1d", seeds=(0,), holdout_seeds=(),
                    instance_types=["g5.2xlarge"], min_nodes=(0, 1, 4), scale_down_delays=(300,))  # fmt: skip
    assert saving == pytest.approx(rec.current.row["monthly_cost"] - rec.best.row["monthly_cost"], abs=0.5)
    assert provisioning_hint(busy_pool, "cc", "busy") is line  # cached: same pool, same hour
    assert provisioning_hint(busy_pool, "cc", "nope") is None  # an unknown pool: no line, no error


def test_simulate_batch_shares_one_trace_and_matches_simulate():
    """sim.simulate_batch with seeds= and a shared Poisson trace gives each pool exactly the
    records simulate() gives it alone (the old simulate_batch refused traces)."""
    from compute_widgets.sim import PoolSpec, dynamics_key, simulate_batch

    t = np.arange(8640) * 10.0
    workload = Workload(trace=pd.Series(3.0 * (1 + 0.6 * np.cos(2 * np.pi * t / 86400)), index=t))
    pools = [PoolSpec(instance_id=i, gpus=1, gpu_memory_gib=gm, vcpu=c, memory_gib=4 * c, price_od=p,
                      min_nodes=m, max_nodes=6, spot=s)
             for i, c, gm, p in (("small", 4, 24.0, 1.0), ("big", 8, 48.0, 3.0)) for m in (0, 2) for s in (False, True)]  # fmt: skip
    deps = [[DeploymentSpec(max_replicas=40)] for _ in pools]
    start = datetime(2026, 1, 5, tzinfo=UTC)
    batch = simulate_batch(pools, deps, duration=86400, start=start, seeds=[7, 8] * 4, workload=workload)
    for i, pool in enumerate(pools):
        alone = simulate(pool, deps[i], workload, duration=86400, seed=[7, 8][i % 2], start=start, record_every=6)
        assert np.array_equal(alone.raw, batch.records[i])
    # "small" and "big" pack one replica a node: they run alike, only utilisation and price differ
    assert dynamics_key(pools[0], deps[0], 10.0, workload) == dynamics_key(pools[4], deps[4], 10.0, workload)
    assert dynamics_key(pools[0], deps[0], 10.0, workload) != dynamics_key(pools[1], deps[1], 10.0, workload)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(target_p95="fast"), "target_p95='fast': give a latency like '2s' or 2.0 (seconds)"),
        (dict(target_p95=0), "target_p95=0: give a latency above 0 seconds"),
        (dict(min_nodes=(-1, 2)), "min_nodes=(-1, 2): give whole node counts of 0 or more"),
        (dict(capacity=("reserved",)), "capacity=('reserved',): use 'spot' (with on-demand fallback) and/or 'on_demand'"),
        (dict(instance_types=["p9.huge"]), "instance_types: p9.huge not offered in aws/us-east-1: see %compute li"),
        (dict(min_nodes=(5,), max_nodes=(2,)), "no candidate left: every min_nodes is above every max_nodes"),
        (dict(seeds=()), "seeds=(): give at least one seed"),
    ],
)  # fmt: skip
def test_bad_arguments_get_one_clear_line(client, kwargs, message):
    from compute_widgets.rightsize import RightsizeError

    args = dict(traffic="steady", client=client, provider="aws", region="us-east-1", deployments=[LLM],
                range="1h", holdout_seeds=())  # fmt: skip
    with pytest.raises(RightsizeError) as e:
        recommend(**{**args, **kwargs})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_result_shows_itself_and_cw_recommend_is_the_engine(client):
    import compute_widgets as cw
    from compute_widgets import rightsize

    assert cw.recommend is rightsize.recommend
    kw = dict(traffic=traffic_from("diurnal", range="1d", rps=2.0), client=client, provider="aws", region="us-east-1",
              instance_types=["g4dn.xlarge"], deployments=[LLM], min_nodes=(0, 1), max_nodes=(3,),
              scale_down_delays=(300,), seeds=(0,), holdout_seeds=(100,))  # fmt: skip
    rec = recommend(**kw)
    page = rec._repr_html_()
    assert rec.best is not None and html.escape(rec.best.command) in page and "max_instances: 3" in page
    assert f"{len(rec.candidates)} candidates simulated" in page and "Held-out seeds [100]" in page
    assert repr(rec).startswith(f"Recommendation({len(rec.candidates)} candidates, front {len(rec.front)}")
    none = recommend(**{**kw, "target_p95": 1e-9, "traffic": traffic_from("bursty", range="1d", rps=8.0)})
    assert none.best is None and html.escape(none.binding) in none._repr_html_()


def test_every_engine_error_is_one_catchable_class():
    from compute_widgets.rightsize import RightsizeError

    assert issubclass(TrafficError, RightsizeError) and issubclass(RightsizeError, ValueError)
