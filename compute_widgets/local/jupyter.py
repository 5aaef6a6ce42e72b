"""Jupyter server extension: the local control plane starts and stops with Jupyter.

Enabled by ``jupyter-config/jupyter_server_config.d/compute_widgets.json`` (installed into
``etc/jupyter``). At load it

* starts the control plane of the data directory in a background thread (`ensure_server`), so
  Jupyter's own start is not delayed; a server that already runs for that directory is reused;
* exports ``COMPUTE_WIDGETS_DATA_DIR`` into the Jupyter server's environment, which the kernels
  it starts inherit: `connect()` in a kernel then reads the same runtime file and finds this
  server (or restarts it on the same data). The URL is deliberately *not* exported: the port can
  change when the control plane restarts, and the runtime file is always current;
* serves ``GET {base_url}/compute-widgets/health`` (authenticated like every Jupyter API): the
  control plane's url, pid, data dir and health, never its token;
* at Jupyter shutdown, stops the control plane if (and only if) it started it.

It never crashes Jupyter: if the control plane cannot start, a warning is logged and the health
handler answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
from typing import Any

from compute_widgets.local import runtime

log = logging.getLogger(__name__)

HEALTH_PATH = "compute-widgets/health"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "compute_widgets.local.jupyter"}]


class _ControlPlane:
    """The control plane this Jupyter server uses; started in a worker thread."""

    def __init__(self, data_dir: str | None, logger: logging.Logger | None = None) -> None:
        self.data_dir = data_dir
        self.log = logger or log
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "compute-widgets-start")
        self.future: concurrent.futures.Future[runtime.ServerHandle] = self._pool.submit(
            runtime.ensure_server, data_dir
        )
        self.future.add_done_callback(self._report)
        self.stopped = False

    def _report(self, future: concurrent.futures.Future[runtime.ServerHandle]) -> None:
        exc = future.exception()
        if exc is not None:
            self.log.warning("compute_widgets | the local control plane did not start: %s", exc)
        else:
            h = future.result()
            verb = "started" if h.started else "found"
            self.log.info(
                "compute_widgets | local control plane %s at %s (pid %d)", verb, h.url, h.pid
            )

    async def handle(self) -> runtime.ServerHandle:
        """The plane's handle. The one start-up look can fail (a plane too busy to answer its
        health check in time): then look again, each call, for a plane that runs for the data
        dir, rather than fail for the session; none: the start-up's error."""
        try:
            return await asyncio.wrap_future(self.future)
        except Exception as exc:
            found = await asyncio.to_thread(runtime.find_server, self.data_dir)
            if found is None:
                raise RuntimeError(f"the local control plane did not start: {exc}") from None
            return found

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the control plane if this extension started it (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        try:
            handle = self.future.result(timeout=runtime.START_TIMEOUT + 5)
        except Exception:
            return
        finally:
            self._pool.shutdown(wait=False)
        if handle.started:
            runtime.stop_server(handle, timeout=timeout)
            self.log.info("compute_widgets | stopped the local control plane (pid %d)", handle.pid)


def _make_handler() -> type:
    # Imported here: jupyter_server and tornado are only needed inside a Jupyter server.
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class HealthHandler(APIHandler):
        @web.authenticated
        async def get(self) -> None:
            plane: _ControlPlane = self.settings["compute_widgets_control_plane"]
            try:
                handle = await plane.handle()
            except Exception as e:
                self.set_status(503)
                self.finish({"ok": False, "error": str(e)})
                return
            body: dict[str, Any] = {
                "url": handle.url,
                "pid": handle.pid,
                "data_dir": str(handle.data_dir),
                "started_by_jupyter": handle.started,
            }
            # The token goes only to a server that first proved it holds it (runtime._health:
            # HMAC of a nonce over the same connection), never to whatever took the port.
            health = await asyncio.to_thread(runtime._health, handle.url, handle.token, 5.0, handle.pid)
            ok = health is not None
            if health is None:
                health = {"error": "not answering, or not the control plane this server started"}
            if isinstance(health, dict):  # belt and braces: the token never leaves
                health = {k: v for k, v in health.items() if "token" not in k.lower()}
            body.update(ok=ok, health=health)
            self.set_status(200 if ok else 503)
            self.finish(body)

    return HealthHandler


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Start the control plane, register the health handler, stop it at shutdown."""
    from jupyter_server.utils import url_path_join

    # absolute, so kernels with another working directory resolve the same runtime file
    data_dir = str(runtime.default_data_dir().absolute())
    # Kernels started by this server inherit it and find the same runtime file.
    os.environ[runtime.DATA_DIR_ENV] = data_dir
    plane = _ControlPlane(data_dir, serverapp.log)
    web_app = serverapp.web_app
    web_app.settings["compute_widgets_control_plane"] = plane
    route = url_path_join(web_app.settings["base_url"], HEALTH_PATH)
    web_app.add_handlers(".*$", [(route, _make_handler())])

    # Module extensions get no shutdown hook from jupyter_server (only ExtensionApps do), so
    # wrap the server's extension cleanup; atexit covers exits that skip it.
    original = serverapp.cleanup_extensions

    async def cleanup_extensions() -> None:
        try:
            await original()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, plane.stop)

    serverapp.cleanup_extensions = cleanup_extensions
    atexit.register(plane.stop)
    serverapp.log.info("compute_widgets | local control plane starting for %s", data_dir)
