"""The Compute panel's endpoints, under ``{base_url}compute-widgets/api/``.

Every handler is a jupyter_server APIHandler behind ``@tornado.web.authenticated``: Jupyter's
own token or cookie, nothing of ours. They call the chosen backend with compute_widgets.api's
async client on Jupyter's loop (no blocking call there); the token or PAT stays in this process.

``GET contexts``
    ``{"current": NAME, "backends": [{"name", "kind": "local"|"context", "label", "user_id",
    "api_base", "usable", "problem", "connect"}], "warning": str|null}``. ``local`` (the control
    plane this Jupyter server runs) comes first, then the Clarifai CLI's contexts; ``current`` is
    the CLI's current context, else ``local``; ``connect`` is the line a notebook runs to reach
    that backend. A malformed config file is a one-line ``warning``, not an error.

``GET clusters?backend=NAME``
    ``{"backend": NAME, "clusters": [{"id", "description", "provider", "provider_label",
    "region", "node_count", "cost_per_hour", "nodepools": [{"id", "cluster_id", "description",
    "status", "status_description", "instance_type", "capacity", "min_instances",
    "max_instances", "node_count", "nodes": {"spot", "on_demand"}|null, "price_per_hour",
    "cost_per_hour"}]}], "totals": {"clusters", "nodepools", "node_count", "cost_per_hour"}}``
    (see `overview` for where each number comes from). ``backend`` defaults to ``local``.

Errors are ``{"error": one line}``: 400 for an unknown or unusable backend (the line says which
names exist or what to set), 502 when the backend failed or could not be reached.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from compute_widgets.api import ComputeError, NotConfigured, redact
from compute_widgets.lab.backends import LOCAL, Backends
from compute_widgets.lab.overview import overview

API_PATH = "compute-widgets/api"
BACKENDS_KEY = "compute_widgets_backends"


class _Base(APIHandler):
    @property
    def backends(self) -> Backends:
        return self.settings[BACKENDS_KEY]

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish({"error": redact(message.splitlines()[0] if message else "failed")})


class ContextsHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        self.finish(self.backends.listing())


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cycle collector while one refresh builds and sends its answer.

    A refresh of 2,000 nodepools makes tens of thousands of short-lived objects (the models of
    the listing, the rows); with the collector on, they trigger collections that also walk the
    Jupyter server's own ~200,000 long-lived objects: measured, that tripled the endpoint's
    overhead over the bare listing. Reference counting still frees all of them when the answer
    is sent; if the collector was already off (someone else's choice), it stays off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class ClustersHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        name = self.get_query_argument("backend", LOCAL)
        with _cyclic_gc_paused():
            try:
                backend = await self.backends.get(name)
                body = await overview(backend.client, backend.prices, backend.splits)
            except NotConfigured as exc:
                self.fail(400, str(exc))
                return
            except ComputeError as exc:
                self.fail(502, f"{name}: {exc}")
                return
            self.finish({"backend": name, **body})


def register(web_app: Any) -> None:
    """Add the panel's handlers to Jupyter's web app."""
    web_app.settings[BACKENDS_KEY] = Backends(web_app.settings)
    base = url_path_join(web_app.settings["base_url"], API_PATH)
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "contexts"), ContextsHandler),
            (url_path_join(base, "clusters"), ClustersHandler),
        ],
    )
