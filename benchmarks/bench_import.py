"""What `%load_ext compute_widgets` adds to an IPython shell, beside `import IPython`.

Each sample runs in a fresh subprocess (cold module cache, warm OS file cache): it times
`import IPython`, builds an InteractiveShell, then times `%load_ext compute_widgets`, and
lists any heavy module the load pulled in. Goal: load_ext <= 0.5x import IPython.

    /work/venv/bin/python benchmarks/bench_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = ("pandas", "plotly", "ipywidgets", "fastapi", "numba", "httpx", "pydantic", "yaml", "numpy")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import IPython
t1 = time.perf_counter()
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
c = Config(); c.HistoryAccessor.enabled = False
ip = InteractiveShell.instance(config=c)
before = set(sys.modules)
t2 = time.perf_counter()
ip.run_line_magic("load_ext", "compute_widgets")
t3 = time.perf_counter()
assert "compute" in ip.magics_manager.magics["line"]
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY))
print(json.dumps({"import_ipython": t1 - t0, "load_ext": t3 - t2, "heavy": heavy}))
"""


def sample() -> dict:
    code = f"HEAVY = {HEAVY!r}\n" + CHILD
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    sample()  # warm the OS file cache and .pyc files
    samples = [sample() for _ in range(runs)]
    ipy = [s["import_ipython"] * 1000 for s in samples]
    ext = [s["load_ext"] * 1000 for s in samples]
    heavy = sorted({m for s in samples for m in s["heavy"]})
    ratio = statistics.median(ext) / statistics.median(ipy)
    print(f"runs: {runs} fresh subprocesses ({sys.executable})")
    print(f"import IPython            median {statistics.median(ipy):7.1f} ms  (min {min(ipy):.1f}, max {max(ipy):.1f})")
    print(f"%load_ext compute_widgets median {statistics.median(ext):7.1f} ms  (min {min(ext):.1f}, max {max(ext):.1f})")
    print(f"ratio load_ext / import IPython = {ratio:.3f}x  (goal <= 0.5x: {'met' if ratio <= 0.5 else 'NOT met'})")
    print(f"heavy modules imported by the load: {', '.join(heavy) or 'none'}")
    return 0 if ratio <= 0.5 and not heavy else 1


if __name__ == "__main__":
    raise SystemExit(main())
