"""compute_widgets: Clarifai-style compute orchestration in Jupyter.

The face of the package. Importing it is cheap: pandas, plotly, ipywidgets and
fastapi load only when the names that need them are first used.

    import compute_widgets as cw
    client = cw.connect()            # CLARIFAI_PAT -> api.clarifai.com, else the Clarifai CLI's
                                     # current context, else the local control plane
    cw.connect(context="prod")       # a context of `clarifai login` (~/.config/clarifai/config)
    cw.ClusterWizard(client)         # the web wizard, in a notebook
    %load_ext compute_widgets        # the %compute magics
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY = {
    "connect": "compute_widgets.settings",
    "connect_async": "compute_widgets.settings",
    "get_client": "compute_widgets.settings",
    "Settings": "compute_widgets.settings",
    "ComputeClient": "compute_widgets.api.client",
    "AsyncComputeClient": "compute_widgets.api.client",
    "ApiError": "compute_widgets.api.errors",
    "InvalidInput": "compute_widgets.api.errors",
    "ComputeCluster": "compute_widgets.api.models",
    "Nodepool": "compute_widgets.api.models",
    "Deployment": "compute_widgets.api.models",
    "InstanceType": "compute_widgets.api.models",
    "AutoscaleConfig": "compute_widgets.api.models",
    "ClusterWizard": "compute_widgets.widgets",
    "NodepoolWizard": "compute_widgets.widgets",
    "DeploymentWizard": "compute_widgets.widgets",
    "ComputeBrowser": "compute_widgets.widgets",
    "Planner": "compute_widgets.widgets",
    "simulate": "compute_widgets.sim",
    "recommend": "compute_widgets.rightsize",
    "charts": "compute_widgets.charts",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compute_widgets' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    if name == "connect":
        value = _warming(value)
    globals()[name] = value
    return value


def _warming(connect: Any) -> Any:
    """`connect()` that also starts loading the simulator in the background (see _warm.py)."""
    import functools

    @functools.wraps(connect)
    def connect_and_warm(*args: Any, **kwargs: Any) -> Any:
        from compute_widgets import _warm

        # the first chart's imports (~2 s, mostly nbformat's jsonschema) overlap the wait for a
        # starting control plane instead of following it
        _warm.start_display_imports()
        client = connect(*args, **kwargs)
        _warm.start(client)
        return client

    return connect_and_warm


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext compute_widgets`: register `%compute` and `%%compute`."""
    from compute_widgets import _warm
    from compute_widgets.magics import load_ipython_extension as load

    load(ipython)
    _warm.start()  # `%compute plan` simulates in this process


def unload_ipython_extension(ipython: Any) -> None:
    from compute_widgets.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server extension: starts the local control plane with Jupyter (local.jupyter),
    and serves the Compute panel's endpoints (lab: it may import settings, local/ may not)."""
    return [{"module": "compute_widgets.local.jupyter"}, {"module": "compute_widgets.lab"}]
