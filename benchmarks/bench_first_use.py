"""First touches, cold and warm, beside a cell that only imports the package (issue 13 #11).

Run: python benchmarks/bench_first_use.py [--repeat N] [--only quickstart,chart,plan,page] [--cells]

Each figure is one cell (or the quickstart's whole Run all) executed in a fresh kernel by
nbclient, timed from the kernel's own execute_input/execute_reply timestamps (kernel start-up
excluded, as for a user whose kernel is already up):

  import      `import compute_widgets as cw` (the baseline)
  quickstart  notebooks/01-quickstart.ipynb, Run all (every cell; its connect() starts the
              control plane, which compiles or loads the simulator in a thread)
  chart       the first `%compute chart CC NP --range 1d --kind scaling`
  plan        the first `%compute plan CC NP --min 1 --max 3` (simulates in the kernel)
  page        the first ComputeBrowser opened at a nodepool with 33 h of history, until shown

chart/plan/page run after untimed set-up cells in the same kernel (connect, a cluster, a
g5.xlarge pool with a deployment, the clock advanced 33 h): as a user who connected a few
seconds before.

cold = fresh caches: a new data dir (so a new control plane), new Jupyter runtime dir, a new
numba cache dir (NUMBA_CACHE_DIR, inherited by the control plane), a new kernel.
warm = the same, but the numba cache dir filled by the cold run (a new day, same install).
Goal: every cold figure <= 2 s more than the import cell. The machine is shared: repeat and
read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "notebooks" / "01-quickstart.ipynb"
GOAL_OVER_BASELINE_S = 2.0
CELLS = False  # --cells

SETUP = """
import compute_widgets as cw
from compute_widgets.api import models as m
client = cw.connect()
CC, NP = "bench-cc", "bench-np"
client.create_cluster(m.ComputeCluster(id=CC, cloud_provider=m.CloudProvider(id="aws"), region="us-east-1"))
client.create_nodepool(CC, m.Nodepool(
    id=NP, instance_types=[m.InstanceType(id="g5.xlarge")], min_instances=0, max_instances=3,
    node_capacity_type=m.NodeCapacityType(capacity_types=[m.CapacityType.SPOT_TYPE, m.CapacityType.ON_DEMAND_TYPE])))
client.create_deployment(m.Deployment(
    id="bench-dep", autoscale_config=m.AutoscaleConfig(min_replicas=0, max_replicas=3),
    nodepools=[m.Nodepool(id=NP, compute_cluster=m.ComputeCluster(id=CC, user_id=client.user_id))],
    worker=m.Worker(model=m.ModelRef(id="llama-3-8b", user_id=client.user_id, app_id="demo"))))
client.advance_clock(33 * 3600)
%load_ext compute_widgets
"""

TOUCHES = {
    "import": ("", "import compute_widgets as cw"),
    "chart": (SETUP, "%compute chart bench-cc bench-np --range 1d --kind scaling"),
    "plan": (SETUP, "%compute plan bench-cc bench-np --min 1 --max 3"),
    "page": (
        SETUP,
        "b = cw.ComputeBrowser(client, nodepool=(CC, NP))\nawait b.wait(600)\nassert b.figures, b",
    ),
}
ORDER = ["import", "quickstart", "chart", "plan", "page"]


def _seconds(cell) -> float:
    t = cell.metadata.get("execution", {})
    start = dt.datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def _notebook(name: str) -> tuple[nbformat.NotebookNode, list[int]]:
    """The notebook to run and the indices of its timed cells."""
    if name == "quickstart":
        nb = nbformat.read(QUICKSTART, as_version=4)
        return nb, [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    setup, touch = TOUCHES[name]
    cells = [nbformat.v4.new_code_cell(setup)] if setup else []
    cells.append(nbformat.v4.new_code_cell(touch))
    return nbformat.v4.new_notebook(cells=cells), [len(cells) - 1]


def run_one(name: str, numba_dir: Path) -> float:
    """Seconds of the timed cells of `name` in a fresh kernel with a fresh data dir."""
    from compute_widgets.local import runtime

    work = Path(tempfile.mkdtemp(prefix=f"cw-first-{name}-"))
    env = {
        runtime.DATA_DIR_ENV: str(work / "data" / "compute_widgets"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_DATA_DIR": str(work / "data"),
        "NUMBA_CACHE_DIR": str(numba_dir),
    }
    saved = {k: os.environ.get(k) for k in [*env, "CLARIFAI_PAT", "CLARIFAI_API_BASE"]}
    os.environ.update(env)
    os.environ.pop("CLARIFAI_PAT", None)
    os.environ.pop("CLARIFAI_API_BASE", None)
    try:
        nb, timed = _notebook(name)
        resources = {"metadata": {"path": str(work)}}
        NotebookClient(nb, timeout=900, kernel_name="python3", resources=resources).execute()
        if CELLS:  # where the time goes, cell by cell
            for i in timed:
                head = nb.cells[i].source.strip().splitlines()[0][:60]
                print(f"      {_seconds(nb.cells[i]):6.2f} s  {head}")
        return sum(_seconds(nb.cells[i]) for i in timed)
    finally:
        handle = runtime.find_server(Path(env[runtime.DATA_DIR_ENV]))
        if handle is not None:
            runtime.stop_server(handle)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="cold+warm rounds (default 1)")
    ap.add_argument("--only", default=",".join(ORDER), help="comma-separated touches")
    ap.add_argument("--cells", action="store_true", help="print each timed cell's time")
    args = ap.parse_args()
    global CELLS
    CELLS = args.cells
    names = [n for n in ORDER if n in args.only.split(",") or n == "import"]
    cold: dict[str, list[float]] = {n: [] for n in names}
    warm: dict[str, list[float]] = {n: [] for n in names}
    t_all = time.perf_counter()
    for r in range(args.repeat):
        for name in names:
            numba_dir = Path(tempfile.mkdtemp(prefix="cw-first-numba-"))
            try:
                cold[name].append(run_one(name, numba_dir))
                warm[name].append(run_one(name, numba_dir))
            finally:
                shutil.rmtree(numba_dir, ignore_errors=True)
            print(f"  round {r + 1} {name:10s} cold {cold[name][-1]:6.2f} s  warm {warm[name][-1]:6.2f} s",
                  flush=True)  # fmt: skip
    base_c, base_w = statistics.median(cold["import"]), statistics.median(warm["import"])
    print(f"\nfirst touches, median of {args.repeat} (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores; {time.perf_counter() - t_all:.0f} s in all)")  # fmt: skip
    print(
        f"  {'touch':12s} {'cold':>8s} {'warm':>8s}   cold - import   goal <= +{GOAL_OVER_BASELINE_S:g} s"
    )
    for name in names:
        c, w = statistics.median(cold[name]), statistics.median(warm[name])
        over = c - base_c
        verdict = "" if name == "import" else ("ok" if over <= GOAL_OVER_BASELINE_S else "over")
        extra = "  (baseline)" if name == "import" else f"  {over:+7.2f} s  {verdict}"
        print(f"  {name:12s} {c:7.2f}s {w:7.2f}s {extra}")
    print(f"  import cell baseline: cold {base_c:.2f} s, warm {base_w:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
