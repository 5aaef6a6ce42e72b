"""Which backends the Compute panel offers, and an async client for the one it picked.

``local`` is the control plane this Jupyter server runs (local.jupyter starts it and keeps its
handle in the web app's settings); every other name is a context of the Clarifai CLI's config
file, resolved by `settings.Settings.resolve(context=NAME)`: the same rules as
``cw.connect(context=NAME)`` in a kernel, so the panel and the cells it inserts reach the same
backend. A CLI context named ``local`` is hidden behind the embedded plane (it is what
``compute-widgets env --context local`` writes for that plane).

Clients are kept per backend (one connection pool each) and rebuilt when the config file
changes. A listing carries names, user ids and API bases, never a PAT.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from compute_widgets.api import NotConfigured
from compute_widgets.api.contexts import LOCAL_DATA_DIR_KEY, config_path, read_contexts
from compute_widgets.lab.overview import PriceBook, SplitCache
from compute_widgets.settings import Settings

LOCAL = "local"
PLANE_KEY = "compute_widgets_control_plane"  # where local.jupyter keeps the plane's handle


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def connect_code(name: str) -> str:
    """The line a notebook runs to reach backend `name` (what the inserted cells use)."""
    return "cw.connect(local=True)" if name == LOCAL else f"cw.connect(context={name!r})"


class Backend:
    """A client and its price book, for one backend name."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client
        self.prices = PriceBook()
        self.splits = SplitCache()


class Backends:
    """The panel's backends: a listing, and `get(name)` -> Backend (cached)."""

    def __init__(self, web_settings: dict[str, Any]) -> None:
        self._web = web_settings
        self._cache: dict[str, tuple[Any, Backend]] = {}
        self._lock = asyncio.Lock()

    def listing(self) -> dict[str, Any]:
        """{current, backends: [{name, kind, user_id, api_base, usable, problem, connect}], warning}."""
        out: list[dict[str, Any]] = [
            {
                "name": LOCAL,
                "kind": "local",
                "label": "Local control plane",
                "user_id": "me",
                "api_base": None,
                "usable": True,
                "problem": None,
                "connect": connect_code(LOCAL),
            }
        ]
        current, warning = LOCAL, None
        try:
            found = read_contexts()
        except NotConfigured as exc:  # a malformed file: the panel says so, local still works
            warning = f"{exc}; showing the local control plane only"
        else:
            for name, ctx in found.contexts.items():
                if name == LOCAL:
                    continue
                missing = [why for key, why in ctx.missing.items() if key != "CLARIFAI_USER_ID"]
                plane = LOCAL_DATA_DIR_KEY in ctx.env
                out.append({
                    "name": name,
                    "kind": "local" if plane else "context",
                    "label": name,
                    "user_id": ctx.user_id or "me",
                    "api_base": ctx.api_base,
                    "usable": not missing,
                    "problem": missing[0] if missing else None,
                    "connect": connect_code(name),
                })  # fmt: skip
            if found.current and found.current != LOCAL:
                current = found.current
        return {"current": current, "backends": out, "warning": warning}

    async def get(self, name: str) -> Backend:
        """The backend `name`; NotConfigured (one line) for an unknown or unusable one."""
        key = await self._key(name)
        async with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] == key:
                return cached[1]
            if cached is not None:
                await cached[1].client.close()
            backend = Backend(name, (await self._settings(name)).async_client(timeout=30.0))
            self._cache[name] = (key, backend)
            return backend

    async def _key(self, name: str) -> Any:
        if name == LOCAL:
            handle = await self._plane()
            return handle.url, handle.pid
        return _stamp(config_path())

    async def _plane(self) -> Any:
        plane = self._web.get(PLANE_KEY)
        if plane is None:
            raise NotConfigured("the local control plane is not started by this Jupyter server")
        try:
            return await plane.handle()
        except RuntimeError as exc:
            raise NotConfigured(str(exc)) from None

    async def _settings(self, name: str) -> Settings:
        if name == LOCAL:
            h = await self._plane()
            return Settings(h.url, h.token, "me", local=True, data_dir=Path(h.data_dir))
        # reads the file and may find (or start) a local plane: not on Jupyter's loop
        return await asyncio.to_thread(Settings.resolve, context=name)

    async def close(self) -> None:
        for _, backend in self._cache.values():
            await backend.client.close()
        self._cache.clear()
