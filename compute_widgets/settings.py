"""Where to connect: explicit arguments > CLARIFAI_* environment variables > local control plane.

    connect()                              # CLARIFAI_PAT set -> api.clarifai.com, else local
    connect(pat="...", user_id="alice")    # explicit beats the environment
    connect(local=True)                    # the local control plane even when CLARIFAI_PAT is set

Each field is resolved on its own: ``api_base`` = argument, else ``CLARIFAI_API_BASE``, else
``https://api.clarifai.com`` when a PAT is known; ``pat`` = argument, else ``CLARIFAI_PAT``;
``user_id`` = argument, else ``CLARIFAI_USER_ID``, else ``"me"`` (the caller). With neither a
PAT nor an API base, the local control plane is used (`compute_widgets.local.runtime
.ensure_server()`: found through its runtime file, or started).

A PAT is never sent in clear: an ``http://`` API base is refused unless its host is a loopback
address. A client of the local control plane follows it across a restart: after a connection
failure or a 401 it reads the runtime file again (`find_server`, which checks the server's
identity) and continues with the new url and token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compute_widgets.api import refuse_clear_text
from compute_widgets.api.errors import ComputeError, NotConfigured

if TYPE_CHECKING:
    from compute_widgets.api.client import AsyncComputeClient, ComputeClient

CLARIFAI_API = "https://api.clarifai.com"
HOW_TO = (
    "Set CLARIFAI_PAT to a Clarifai Personal Access Token (clarifai.com -> Settings -> Secrets), "
    "or call connect(pat=..., user_id=...)"
)

class Session:
    """The connection `get_client()` answers with: the client of the last `connect()`.

    One instance per process (`SESSION`); widgets and magics given no client use it. Held on an
    object, not a bare module global, so a test or a kernel can read and reset it by name.
    """

    def __init__(self) -> None:
        self.client: ComputeClient | None = None

    def reset(self) -> None:
        """Forget the last connection (the next `get_client()` connects from the environment)."""
        self.client = None


SESSION = Session()


@dataclass(frozen=True)
class Settings:
    """A resolved backend. The PAT is never shown (repr masks it)."""

    api_base: str
    pat: str | None = field(default=None, repr=False)
    user_id: str = "me"
    local: bool = False
    data_dir: Path | None = None

    def __repr__(self) -> str:
        pat = "'****'" if self.pat else "None"
        where = ", local=True" if self.local else ""
        return f"Settings(api_base={self.api_base!r}, pat={pat}, user_id={self.user_id!r}{where})"

    @classmethod
    def resolve(
        cls,
        api_base: str | None = None,
        pat: str | None = None,
        user_id: str | None = None,
        *,
        local: bool | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Pick the backend (see the module docstring). `local=False` forbids the local fallback."""
        env = os.environ
        user = user_id or env.get("CLARIFAI_USER_ID") or "me"
        if local:
            return cls._local(user_id or "me", data_dir)
        token = pat or env.get("CLARIFAI_PAT") or None
        base = api_base or env.get("CLARIFAI_API_BASE") or (CLARIFAI_API if token else None)
        if base:
            if token:
                refuse_clear_text(base, "api_base" if api_base else "CLARIFAI_API_BASE")
            return cls(api_base=base.rstrip("/"), pat=token, user_id=user)
        if local is False:
            raise NotConfigured(f"No Clarifai backend configured. {HOW_TO}.")
        return cls._local(user_id or "me", data_dir)

    @classmethod
    def _local(cls, user_id: str, data_dir: str | os.PathLike[str] | None) -> Settings:
        try:
            from compute_widgets.local.runtime import ensure_server
        except ImportError as exc:
            raise NotConfigured(
                f"No Clarifai backend configured and the local control plane is not available "
                f"({type(exc).__name__}: {exc}). {HOW_TO}."
            ) from None
        try:
            handle = ensure_server(data_dir)
        except ComputeError as exc:
            # what to fix is in `exc` (a damaged store, a server that does not answer, ...);
            # a PAT would not fix it, so the message does not send the user there
            raise NotConfigured(f"The local control plane did not start: {exc}") from None
        return cls(
            api_base=handle.url,
            pat=handle.token,
            user_id=user_id,
            local=True,
            data_dir=Path(handle.data_dir),
        )

    def client(self, **options: Any) -> ComputeClient:
        """A ComputeClient for these settings (`options`: timeout, retries, transport)."""
        from compute_widgets.api.client import ComputeClient

        return ComputeClient(self.api_base, self.pat, self.user_id, **self._options(options))

    def async_client(self, **options: Any) -> AsyncComputeClient:
        from compute_widgets.api.client import AsyncComputeClient

        return AsyncComputeClient(self.api_base, self.pat, self.user_id, **self._options(options))

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.local and self.data_dir is not None:
            options.setdefault("rediscover", _Rediscover(self.data_dir))
        return options


class _Rediscover:
    """(url, token) of the local control plane of `data_dir` now, or None (never starts one)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def __call__(self) -> tuple[str, str] | None:
        from compute_widgets.local.runtime import find_server

        handle = find_server(self.data_dir)
        return None if handle is None else (handle.url, handle.token)

    def __repr__(self) -> str:
        return f"_Rediscover({str(self.data_dir)!r})"



def connect(
    api_base: str | None = None,
    pat: str | None = None,
    user_id: str | None = None,
    *,
    local: bool | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> ComputeClient:
    """A ComputeClient for the resolved backend; it becomes `get_client()`'s answer."""
    settings = Settings.resolve(api_base, pat, user_id, local=local, data_dir=data_dir)
    client = SESSION.client = settings.client(**options)
    return client


def connect_async(
    api_base: str | None = None,
    pat: str | None = None,
    user_id: str | None = None,
    *,
    local: bool | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> AsyncComputeClient:
    """An AsyncComputeClient for the resolved backend (not remembered by get_client())."""
    settings = Settings.resolve(api_base, pat, user_id, local=local, data_dir=data_dir)
    return settings.async_client(**options)


def get_client() -> ComputeClient:
    """The client of the last `connect()`, or a new one from the environment."""
    return SESSION.client if SESSION.client is not None else connect()
