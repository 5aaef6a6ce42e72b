"""Have the simulator (and the first chart's imports) ready before the first ``plan``/chart:
warm them in a thread at connect/%load_ext.

numba compiles the simulator's kernel on its first use after an install (10-60 s on two busy
cores) and loads it from its disk cache afterwards (0.3-2 s). The local control plane warms its
own copy at start, in its own process, into the same cache. A kernel compiling at the same time
would do the same work twice on the same cores, so beside a local control plane the thread
first waits for the plane's warm-up, then loads what it wrote. Importing this module is cheap
(no numba): the widgets and magics ask :func:`ready` to decide whether to say
:data:`COMPILING` while they wait.

``COMPUTE_WIDGETS_WARM_UP=0`` turns the background warm-up off.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

ENV = "COMPUTE_WIDGETS_WARM_UP"
WAIT_FOR_SERVER_S = 300.0  # the plane's cold compile on a busy machine, and some margin
POLL_S = 0.5
COMPILING = "Compiling the simulator (first use only; later runs start at once)…"
SERVER_COMPILING = "the control plane is compiling its simulator (first use only)"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def ready() -> bool:
    """True when this process has the simulator's kernel compiled or loaded.

    Never the first to import the simulator (that imports numba): not imported yet = not ready.
    Once someone started importing it, ask it through the import system, which waits while
    another thread (the warm-up) is still running the import: reading its half-initialised
    module from sys.modules raised AttributeError ("partially initialized module").
    """
    if "compute_widgets.sim" not in sys.modules:
        return False
    sim = importlib.import_module("compute_widgets.sim")
    return sim.is_warm()


def start(client: Any = None) -> threading.Thread | None:
    """Warm the simulator in a daemon thread (once per process); None when not needed or off."""
    global _thread
    if os.environ.get(ENV, "1") == "0" or ready():
        return None
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(
                target=_warm, args=(client,), name="compute-widgets-sim-warm-up", daemon=True
            )
            _thread.start()
        return _thread


def server_warm(client: Any) -> bool | None:
    """Whether a local control plane has its simulator warm (GET /local/stats); None when it
    cannot say (a remote backend, an async client, an older server, an error)."""
    if not getattr(client, "is_local", False) or not hasattr(client, "_run"):
        return None
    try:
        data = client._run(client._local_stats())
    except Exception:
        return None
    sim = data.get("simulator") if isinstance(data, dict) else None
    if not isinstance(sim, dict) or "warm" not in sim:
        return None
    return bool(sim["warm"]) or bool(sim.get("error"))  # a failed warm-up will not get warmer


def _wait_for_server(client: Any, limit: float = WAIT_FOR_SERVER_S) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and server_warm(client) is False:
        time.sleep(POLL_S)


DISPLAY_MODULES = (
    "pandas",
    "plotly.graph_objects",
    "plotly.io._renderers",
    "compute_widgets.charts",
)
"""What the first displayed chart imports, top-down (the order a cell imports them in). Most of
it is plotly.io._renderers: it imports nbformat, whose jsonschema builds ~40 grammars (6-11 s
on two busy cores): while the control plane still compiles, this thread does that meanwhile."""


def import_display_stack() -> None:
    for name in DISPLAY_MODULES:
        importlib.import_module(name)


_display_thread: threading.Thread | None = None


def start_display_imports() -> threading.Thread | None:
    """Import the display stack in a daemon thread (once per process; None when off)."""
    global _display_thread
    if os.environ.get(ENV, "1") == "0":
        return None
    with _lock:
        if _display_thread is None:
            _display_thread = threading.Thread(
                target=_quietly, args=(import_display_stack,), name="compute-widgets-imports",
                daemon=True,
            )
            _display_thread.start()
    return _display_thread


def _quietly(fn: Any) -> None:
    try:
        fn()
    except Exception as e:  # the cell that needs the module imports it itself, and says why
        log.debug("background import failed: %s", e)


def _warm(client: Any) -> None:
    # not niced: the kernel's own cell may wait on this thread's import or compile lock, and a
    # niced holder of that lock starved on a busy machine (plan: 21 s -> 29 s at load 40)
    t0 = time.perf_counter()
    try:
        import_display_stack()
        if client is not None:
            _wait_for_server(client)
        from compute_widgets import sim

        sim.warm_up()
        log.debug("simulator warm in %.1f s", time.perf_counter() - t0)
    except Exception as e:  # the first simulation compiles instead, and says so
        log.debug("simulator warm-up failed: %s", e)
