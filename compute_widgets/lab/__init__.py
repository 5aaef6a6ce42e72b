"""The JupyterLab side: the *Compute* panel's server endpoints (`handlers`), what they list
(`overview`) and which backend they ask (`backends`).

Loaded by the Jupyter server as the second extension point of ``compute_widgets`` (after
``local.jupyter``, which starts the embedded control plane). The browser never sees a token:
the endpoints call the chosen backend with compute_widgets.api's async client here, in the
Jupyter server, and answer plain JSON. Imports: api, settings, local.runtime only (tests/test_layers.py).
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from compute_widgets.lab.handlers import register

    register(serverapp.web_app)
    serverapp.log.info("compute_widgets | Compute panel endpoints at /compute-widgets/api/")
