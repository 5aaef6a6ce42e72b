"""Building a NodepoolWizard over the full catalog (>= 60 instance types), once it is fetched.

Goal: <= 0.25 s. Printed beside two baselines measured in the same run: building a plain
``ipywidgets.Select`` with the same options (the floor of any picker), and fetching the catalog
from the local control plane (what the user waits for anyway).

    /work/venv/bin/python benchmarks/bench_widgets.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

GOAL_S = 0.25


def timed(fn, runs: int) -> tuple[float, float]:
    """(median, best) seconds of ``fn()`` over ``runs`` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    import ipywidgets as W

    from compute_widgets.api import models as m
    from compute_widgets.api.client import ComputeClient
    from compute_widgets.local.runtime import start_server, stop_server
    from compute_widgets.widgets import NodepoolWizard

    handle = start_server(data_dir=tempfile.mkdtemp(prefix="bench-widgets-"), port=0)
    try:
        with ComputeClient(handle.url, handle.token) as client:
            fetch_med, fetch_best = timed(lambda: client.list_instance_types("all", "all"), runs)
            # "all" lists a type once per region: keep one of each (the picker shows ids)
            catalog = list({t.id: t for t in client.list_instance_types("all", "all")}.values())
            assert len(catalog) >= 60, (
                f"catalog has {len(catalog)} types, the benchmark needs >= 60"
            )
            cluster = m.ComputeCluster(
                id="bench", cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"
            )

            def build_wizard():
                w = NodepoolWizard(cluster, client, instance_types=catalog)
                assert len(w.instance_type.options) == len(catalog)
                return w

            def build_select():
                return W.Select(options=[(t.id, t.id) for t in catalog], rows=8)

            def build_and_pick():
                w = build_wizard()
                w.instance_type.value = "g5.xlarge"  # re-renders table, details, sentence, cost
                return w

            wiz_med, wiz_best = timed(build_wizard, runs)
            pick_med, pick_best = timed(build_and_pick, runs)
            sel_med, sel_best = timed(build_select, runs)
    finally:
        stop_server(handle)

    print(f"catalog: {len(catalog)} instance types, {runs} runs, median (best)")
    print(
        f"  NodepoolWizard build            {wiz_med * 1e3:8.1f} ms ({wiz_best * 1e3:.1f})   goal <= {GOAL_S * 1e3:.0f} ms"
    )
    print(f"  NodepoolWizard build + pick     {pick_med * 1e3:8.1f} ms ({pick_best * 1e3:.1f})")
    print(
        f"  baseline: ipywidgets.Select     {sel_med * 1e3:8.1f} ms ({sel_best * 1e3:.1f})   ratio wizard/Select {wiz_med / sel_med:6.1f}x"
    )
    print(
        f"  baseline: catalog fetch (HTTP)  {fetch_med * 1e3:8.1f} ms ({fetch_best * 1e3:.1f})   ratio wizard/fetch  {wiz_med / fetch_med:6.2f}x"
    )
    ok = wiz_med <= GOAL_S
    print(f"goal {'met' if ok else 'MISSED'}: {wiz_med * 1e3:.1f} ms <= {GOAL_S * 1e3:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
