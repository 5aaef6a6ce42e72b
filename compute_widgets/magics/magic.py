"""`ComputeMagics`: options (traitlets), session state, and the `%compute`/`%%compute` entry.

Kept thin on purpose: the command table is parsing.COMMANDS, the function of each
(command, verb) is dispatch.HANDLERS, each subcommand lives in its own `cmd_*.py`, the YAML
cell in cell.py (a caller of api.config.plan_config / apply_config, where the create-or-update
rules live), completion in completion.py. All state of a session
(client, completion cache, running monitors) lives on the one ComputeMagics instance, so
tests need no global reset.
"""

from __future__ import annotations

import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode, observe

from compute_widgets.magics import dispatch
from compute_widgets.magics.errors import user_errors
from compute_widgets.magics.parsing import usage_text


@magics_class
class ComputeMagics(Magics):
    """The `%compute` and `%%compute` magics (Clarifai CLI verbs in a notebook)."""

    user_id = Unicode(
        "", help="User ID for API calls (default: CLARIFAI_USER_ID, or 'me' on the local plane)."
    ).tag(config=True)
    default_cluster = Unicode(
        "", help="Compute cluster used when a command or YAML document names none."
    ).tag(config=True)
    page_size = Int(128, help="Items per page when listing (the API's per_page).").tag(config=True)
    api_base = Unicode(
        "", help="API base URL; empty = CLARIFAI_API_BASE, else the local control plane."
    ).tag(config=True)
    show_progress = Bool(True, help="Show a progress line for long operations.").tag(config=True)
    completion_cache_seconds = Float(
        20.0, help="How long tab completion reuses a fetched list of IDs."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        #: The ComputeClient in use. Set it to use your own (tests inject the fixture's client).
        self.client: Any = None
        self._owned_clients: list[Any] = []  # clients we created, closed on unload
        self._last_seen: Any = None  # compute_widgets.get_client() as of the last command
        self._monitors: list[Any] = []  # live monitors to stop on unload
        self._id_cache: dict[tuple[str, ...], tuple[float, list[str]]] = {}

    # --- client ---------------------------------------------------------------------------
    def get_client(self) -> Any:
        """The client for the next command.

        `self.client` if set (by `%compute connect` or a test); else, with the api_base or
        user_id options set, a client of our own for them; else `compute_widgets.get_client()`
        (so `cw.connect(...)` in Python steers the magics too).
        """
        if self.client is not None:
            return self.client
        from compute_widgets.settings import Settings, get_client

        if self.api_base or self.user_id:
            settings = Settings.resolve(api_base=self.api_base or None, user_id=self.user_id or None)
            self.use_client(settings.client(), owned=True)
            return self.client
        client = get_client()
        if client is not self._last_seen:
            self._id_cache.clear()
        self._last_seen = client
        return client

    def current_client(self) -> Any:
        """The client in use, or None if no command connected yet (never connects)."""
        return self.client if self.client is not None else self._last_seen

    def use_client(self, client: Any, owned: bool) -> None:
        """Switch to `client`; `owned` clients are closed when replaced or on unload."""
        if self.client is not None and self.client is not client:
            self._close_if_owned(self.client)
        self.client = client
        if owned:
            self._owned_clients.append(client)
        self._id_cache.clear()

    def _close_if_owned(self, client: Any) -> None:
        if any(c is client for c in self._owned_clients):
            self._owned_clients = [c for c in self._owned_clients if c is not client]
            try:
                client.close()
            except Exception:  # closing must never fail an unload
                pass

    @observe("api_base", "user_id")
    def _backend_changed(self, change: Any) -> None:
        # a new backend or user: the next command connects again with the new options
        if self.client is not None:
            self._close_if_owned(self.client)
            self.client = None
        self._id_cache.clear()

    def cluster_id(self, given: str | None, what: str = "this command") -> str:
        """`given`, else `default_cluster`, else a UsageError saying how to set one."""
        if given:
            return given
        if self.default_cluster:
            return self.default_cluster
        raise UsageError(
            f"{what} needs a compute cluster ID: pass it, or set "
            "`%config ComputeMagics.default_cluster = 'CC'`"
        )

    # --- completion cache -----------------------------------------------------------------
    def cached_ids(self, key: tuple[str, ...], fetch: Any) -> list[str]:
        """IDs for completion, fetched at most every `completion_cache_seconds`."""
        now = time.monotonic()
        hit = self._id_cache.get(key)
        if hit and now - hit[0] < self.completion_cache_seconds:
            return hit[1]
        ids = list(fetch())
        self._id_cache[key] = (now, ids)
        return ids

    def cache_put(self, key: tuple[str, ...], ids: list[str]) -> None:
        """A list command just fetched these IDs: completion reuses them."""
        self._id_cache[key] = (time.monotonic(), list(ids))

    def invalidate_ids(self) -> None:
        self._id_cache.clear()

    # --- monitors -------------------------------------------------------------------------
    def track_monitor(self, monitor: Any) -> None:
        self._monitors.append(monitor)

    def close(self) -> None:
        """Stop monitors and close our clients (called by `%unload_ext`)."""
        for monitor in self._monitors:
            for name in ("stop", "close"):
                fn = getattr(monitor, name, None)
                if callable(fn):
                    try:
                        fn()
                    except Exception:
                        pass
                    break
        self._monitors.clear()
        for client in list(self._owned_clients):
            self._close_if_owned(client)
        self.client = None
        self._last_seen = None
        self._id_cache.clear()

    # --- the magic ------------------------------------------------------------------------
    @line_cell_magic
    def compute(self, line: str, cell: str | None = None) -> Any:
        with user_errors(lambda: self.client):
            if cell is None:
                return dispatch.run_line(self, line)
            from compute_widgets.magics.cell import run_cell

            return run_cell(self, line, cell)


# `%compute?` shows this help (the command table is the single source of truth).
ComputeMagics.compute.__doc__ = f"""Clarifai compute orchestration: the CLI's verbs in a notebook.

{usage_text()}

Examples::

    %compute connect --local                 # the embedded control plane (default)
    df = %compute np list                    # every nodepool as a DataFrame
    %compute np create demo gpu --instance g5.xlarge --min 0 --max 3 --spot
    %compute np scale demo gpu --min 1 --max 5
    %compute plan demo gpu --min 0 --max 8 --spot --duration 7d

    %%compute --dry-run
    compute_cluster: {{id: demo, cloud_provider: {{id: aws}}, region: us-east-1}}
    ---
    nodepool:
      id: gpu
      instance_types: [{{id: g5.xlarge}}]
      node_capacity_type: {{capacity_types: [2, 1]}}   # spot, on-demand fallback
      min_instances: 0
      max_instances: 3

Cell documents are created clusters first, then nodepools, then deployments; a nodepool's
cluster comes from its `compute_cluster: {{id: CC}}`, else `--cluster CC`, else the cell's only
compute_cluster document, else `default_cluster`. Everything is validated (and checked against
the server) before anything is created. `--apply` updates what exists.

Options: `%config ComputeMagics` lists them (user_id, default_cluster, page_size, api_base,
show_progress, completion_cache_seconds). The token is read only from the environment
(CLARIFAI_PAT), never from the magic line.
"""
