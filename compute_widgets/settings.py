"""Where to connect: explicit arguments > CLARIFAI_* environment variables > the Clarifai CLI's
current context > the local control plane.

    connect()                              # CLARIFAI_PAT set -> api.clarifai.com, else the CLI's
                                           # current context, else local
    connect(pat="...", user_id="alice")    # explicit beats the environment
    connect(context="prod")                # a context of `clarifai login` / `config create-context`
    connect(local=True)                    # the local control plane even when CLARIFAI_PAT is set

Arguments and environment are resolved field by field: ``api_base`` = argument, else
``CLARIFAI_API_BASE``, else ``https://api.clarifai.com`` when a PAT is known; ``pat`` =
argument, else ``CLARIFAI_PAT``; ``user_id`` = argument, else ``CLARIFAI_USER_ID``, else
``"me"`` (the caller). With neither a PAT nor an API base from those two, the Clarifai CLI's
current context (``~/.config/clarifai/config``, `compute_widgets.api.contexts`) gives both, as a
unit: a PAT is never paired with another source's API base, so it goes only where its context
sends it (``data_dir=`` is about the local plane, so it skips the context). Then, with no
context, the local control plane is used
(`compute_widgets.local.runtime.ensure_server()`: found through its runtime file, or started).

``context="NAME"`` is an explicit choice: that context's base and PAT, whatever the environment
says (explicit ``api_base``/``pat``/``user_id`` arguments still win field by field); an unknown
name raises NotConfigured listing the known ones, and so does a malformed config file. Without
``context=``, a missing config file is silent and a malformed one is a one-line warning
(`ContextWarning`), then the local control plane. A context whose value is ``ENVVAR`` takes it
from the environment variable of that key; if that variable is unset the context is skipped
with a warning (named: an error saying which variable to set).

The local plane's own context (``compute-widgets env --context NAME`` writes it for the official
clarifai CLI and SDK, which speak gRPC): its API base is the plane's gRPC door
``http://127.0.0.1:PORT``; our client speaks REST. Decided: a context is the local plane's when
it names the plane's data directory (key ``COMPUTE_WIDGETS_DATA_DIR``, `contexts.local_context_env`)
or when its API base is the ``grpc_url`` (or ``url``) in the runtime file of the running plane of
the default data dir (or ``data_dir=``). Then connect() goes to that plane's REST ``url`` with the
token of its runtime file (fresh at every start; the one in the context may be stale), and starts
the plane if it is not running. A loopback base that is neither is an ordinary API base.

A PAT is never sent in clear: an ``http://`` API base is refused unless its host is a loopback
address. A client of the local control plane follows it across a restart: after a connection
failure or a 401 it reads the runtime file again (`find_server`, which checks the server's
identity) and continues with the new url and token.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from compute_widgets.api import Secret, refuse_clear_text
from compute_widgets.api.contexts import LOCAL_DATA_DIR_KEY, Context, read_contexts
from compute_widgets.api.errors import ComputeError, NotConfigured

if TYPE_CHECKING:
    from compute_widgets.api.client import AsyncComputeClient, ComputeClient

CLARIFAI_API = "https://api.clarifai.com"
HOW_TO = (
    "Set CLARIFAI_PAT to a Clarifai Personal Access Token (clarifai.com -> Settings -> Secrets), "
    "or call connect(pat=..., user_id=...)"
)


_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class ContextWarning(UserWarning):
    """The Clarifai CLI config could not be used; connect() went on to the next source."""


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
    """A resolved backend. The PAT is held as a `Secret`: repr, vars() and asdict() mask it;
    `token` reveals it for the client."""

    api_base: str
    pat: Secret | None = None  # a str given here is wrapped
    user_id: str = "me"
    local: bool = False
    data_dir: Path | None = None
    context: str | None = None  # the Clarifai CLI context it came from, if any

    def __post_init__(self) -> None:
        if isinstance(self.pat, str):  # frozen: set once, here
            object.__setattr__(self, "pat", Secret(self.pat) if self.pat else None)

    @property
    def token(self) -> str | None:
        return self.pat.reveal() if self.pat else None

    def __repr__(self) -> str:
        pat = "'****'" if self.pat else "None"
        where = ", local=True" if self.local else ""
        where += f", context={self.context!r}" if self.context else ""
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
        context: str | None = None,
    ) -> Settings:
        """Pick the backend (see the module docstring). `local=False` forbids the local fallback."""
        env = os.environ
        if local:
            if context is not None:
                raise NotConfigured("connect(): pass context=NAME or local=True, not both")
            return cls._local(user_id or "me", data_dir)
        if context is not None:
            chosen = read_contexts().get(context)  # unknown name / bad file: NotConfigured
            assert chosen is not None
            return cls._from_context(chosen, api_base, pat, user_id, data_dir, named=True)
        token = pat or env.get("CLARIFAI_PAT") or None
        base = api_base or env.get("CLARIFAI_API_BASE") or None
        if token or base:
            user = user_id or env.get("CLARIFAI_USER_ID") or "me"
            base = base or CLARIFAI_API
            if not api_base and _is_grpc_door(base, data_dir):  # eval "$(compute-widgets env)"
                return cls._local(user, data_dir)
            if token:
                refuse_clear_text(base, "api_base" if api_base else "CLARIFAI_API_BASE")
            return cls(api_base=base.rstrip("/"), pat=token, user_id=user)
        # an explicit data_dir means the local plane, so the CLI's context is not consulted
        current = _current_context() if data_dir is None else None
        if current is not None:
            user = user_id or env.get("CLARIFAI_USER_ID") or None
            found = cls._from_context(current, None, None, user, data_dir, named=False)
            if found is not None:
                return found
        if local is False:
            raise NotConfigured(f"No Clarifai backend configured. {HOW_TO}.")
        return cls._local(user_id or "me", data_dir)

    @classmethod
    def _from_context(
        cls,
        ctx: Context,
        api_base: str | None,
        pat: str | None,
        user_id: str | None,
        data_dir: str | os.PathLike[str] | None,
        *,
        named: bool,
    ) -> Settings | None:
        """The backend of `ctx` (explicit arguments win field by field). A context that cannot
        be used raises when it was `named`, else warns and answers None (the next source)."""
        user = user_id or ctx.user_id or os.environ.get("CLARIFAI_USER_ID") or "me"
        plane_dir = _local_plane_dir(ctx, data_dir) if not (api_base or pat) else None
        if plane_dir is not None:
            return cls._local(user, plane_dir, ctx)
        missing = [why for key, why in ctx.missing.items() if key != "CLARIFAI_USER_ID"]
        if missing and not (api_base and pat):
            return _unusable(f"{missing[0]}; set it, or use another context", named)
        token = pat or (ctx.pat.reveal() if ctx.pat else None)
        base = api_base or ctx.api_base or CLARIFAI_API
        if token:
            try:
                refuse_clear_text(base, "api_base" if api_base else f"context {ctx.name!r}")
            except NotConfigured as exc:
                return _unusable(str(exc), named)
        return cls(api_base=base.rstrip("/"), pat=token, user_id=user, context=ctx.name)

    @classmethod
    def _local(
        cls, user_id: str, data_dir: str | os.PathLike[str] | None, ctx: Context | None = None
    ) -> Settings:
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
        if ctx is not None:
            _check_door(ctx, handle)
        return cls(
            api_base=handle.url,
            pat=handle.token,
            user_id=user_id,
            local=True,
            data_dir=Path(handle.data_dir),
            context=None if ctx is None else ctx.name,
        )

    def client(self, **options: Any) -> ComputeClient:
        """A ComputeClient for these settings (`options`: timeout, retries, transport)."""
        from compute_widgets.api.client import ComputeClient

        return ComputeClient(self.api_base, self.token, self.user_id, **self._options(options))

    def async_client(self, **options: Any) -> AsyncComputeClient:
        from compute_widgets.api.client import AsyncComputeClient

        return AsyncComputeClient(self.api_base, self.token, self.user_id, **self._options(options))

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.local and self.data_dir is not None:
            options.setdefault("rediscover", _Rediscover(self.data_dir))
        return options


def _current_context() -> Context | None:
    """The Clarifai CLI's current context, or None (a malformed file: a warning, then None)."""
    try:
        return read_contexts().get()
    except NotConfigured as exc:
        _warn(f"{exc}; ignoring the Clarifai CLI contexts")
        return None


def _unusable(why: str, named: bool) -> None:
    if named:
        raise NotConfigured(why)
    _warn(f"the Clarifai CLI's current context is not used: {why}")
    return None


def _warn(message: str) -> None:
    """warnings.warn pointing at the user's line (the first frame outside compute_widgets)."""
    level, frame = 2, sys._getframe(1)
    package = os.path.dirname(__file__)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, ContextWarning, stacklevel=level)


def _local_plane_dir(ctx: Context, data_dir: str | os.PathLike[str] | None) -> Path | None:
    """The data dir of the local control plane `ctx` points at, or None if it is not ours.

    Ours: it names the data dir (`LOCAL_DATA_DIR_KEY`, written by `compute-widgets env
    --context`), or its API base is the gRPC or REST url of the running plane of `data_dir`
    (default: the default data dir), e.g. after `clarifai login http://127.0.0.1:PORT`."""
    named = ctx.env.get(LOCAL_DATA_DIR_KEY)
    if isinstance(named, str) and named:
        return Path(named).expanduser()
    handle = _plane_at(ctx.api_base or "", data_dir)
    if handle is None:
        return None
    ports = {_port(url) for url in (handle.url, handle.grpc_url) if url}
    return Path(handle.data_dir) if _port(ctx.api_base or "") in ports - {None} else None


def _is_grpc_door(base: str, data_dir: str | os.PathLike[str] | None) -> bool:
    """Is `base` the gRPC door of the running local plane? `compute-widgets env` exports it as
    CLARIFAI_API_BASE for the official CLI and SDK; our client speaks REST, so connect() goes to
    the plane's REST door instead (any other base is used as given)."""
    handle = _plane_at(base, data_dir)
    return handle is not None and bool(handle.grpc_url) and _port(handle.grpc_url) == _port(base)


def _plane_at(base: str, data_dir: str | os.PathLike[str] | None) -> Any:
    """The running local plane of `data_dir` (default: the default data dir) when `base` may be
    one of its doors, else None. The plane listens on 127.0.0.1 only: a base elsewhere is not
    ours and costs no lookup."""
    where = urlsplit(base)
    if where.scheme != "http" or where.hostname not in _LOOPBACK_NAMES or where.path.strip("/"):
        return None
    try:
        from compute_widgets.local.runtime import find_server
    except ImportError:
        return None
    return find_server(data_dir)


def _check_door(ctx: Context, handle: Any) -> None:
    """Warn when the local plane's context sends the official tools to an old gRPC port (the
    plane restarted on another one): connect() still works, `clarifai ...` would not."""
    door = handle.grpc_url
    if door and ctx.api_base and _port(door) != _port(ctx.api_base):
        _warn(
            f"context {ctx.name!r} points the official clarifai tools at {ctx.api_base}, but the "
            f"local control plane's gRPC door is now {door}; run `compute-widgets env --context "
            f"{ctx.name}` again"
        )


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:  # a port that is not a number: not ours
        return None


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
    context: str | None = None,
    **options: Any,
) -> ComputeClient:
    """A ComputeClient for the resolved backend; it becomes `get_client()`'s answer.

    `context="NAME"` uses that Clarifai CLI context (see the module docstring for the order)."""
    settings = Settings.resolve(
        api_base, pat, user_id, local=local, data_dir=data_dir, context=context
    )
    client = SESSION.client = settings.client(**options)
    return client


def connect_async(
    api_base: str | None = None,
    pat: str | None = None,
    user_id: str | None = None,
    *,
    local: bool | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    context: str | None = None,
    **options: Any,
) -> AsyncComputeClient:
    """An AsyncComputeClient for the resolved backend (not remembered by get_client())."""
    settings = Settings.resolve(
        api_base, pat, user_id, local=local, data_dir=data_dir, context=context
    )
    return settings.async_client(**options)


def get_client() -> ComputeClient:
    """The client of the last `connect()`, or a new one from the environment."""
    return SESSION.client if SESSION.client is not None else connect()
