"""The Clarifai CLI's contexts: read and write ``~/.config/clarifai/config``.

`clarifai login` and `clarifai config create-context` (clarifai 12.5, ``clarifai/utils/config.py``)
write this YAML; the official SDK and CLI use its current context when no CLARIFAI_* environment
variable says otherwise::

    contexts:
      alice:
        CLARIFAI_API_BASE: https://api.clarifai.com
        CLARIFAI_PAT: ...              # "ENVVAR" = read CLARIFAI_PAT from the environment
        CLARIFAI_USER_ID: alice
    current_context: alice

The CLI writes each context's keys directly under its name (``Config.to_yaml`` dumps
``Context.to_serializable_dict()``); it also reads an older ``{NAME: {env: {...}}}`` layout, and
so does `read_contexts`. `write_context` writes what the CLI writes (flat, keys sorted, as
``yaml.safe_dump`` does), keeps every other context and key, and replaces the file atomically
with mode 0600 (it holds PATs). The path is ``$HOME/.config/clarifai/config`` as the CLI computes
it (``Path.home()``); the CLI has no environment variable for another path (only its ``--config``
flag), so neither do we: pass ``path=`` instead.

A PAT read here is a `Secret`: no repr, str or error message shows it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute_widgets.api._secrets import Secret
from compute_widgets.api.errors import NotConfigured

DEFAULT_PATH = Path("~/.config/clarifai/config")  # expanded at each call: HOME may change
DEFAULT_API_BASE = "https://api.clarifai.com"  # the CLI's fallback when a context has no base
ENVVAR = "ENVVAR"  # a value meaning "take it from the environment variable of this key"
# marks the local control plane's own context (settings.py: connect() goes to its REST door);
# not CLARIFAI_-prefixed, so `clarifai config get-contexts` shows no column for it
LOCAL_DATA_DIR_KEY = "COMPUTE_WIDGETS_DATA_DIR"

__all__ = [
    "DEFAULT_PATH",
    "ENVVAR",
    "LOCAL_DATA_DIR_KEY",
    "Context",
    "ContextsFile",
    "config_path",
    "local_context_env",
    "read_contexts",
    "write_context",
]


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path`, or the Clarifai CLI's default config file for the current HOME."""
    return Path(path).expanduser() if path is not None else DEFAULT_PATH.expanduser()


@dataclass(frozen=True)
class Context:
    """One named context. ``env`` holds the file's keys as written, except that a PAT is a
    `Secret` there too (so ``vars(ctx)`` shows none); ``missing`` maps a key whose value is
    ``ENVVAR`` but whose environment variable is unset to the reason (its value here is None)."""

    name: str
    user_id: str | None = None
    api_base: str | None = None
    pat: Secret | None = None
    env: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Context(name={self.name!r}, user_id={self.user_id!r}, api_base={self.api_base!r}, "
            f"pat={self.pat!r}, env={self.env!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, Any]) -> Context:
        """A context from its raw keys, ``ENVVAR`` values resolved from ``os.environ`` now."""
        missing: dict[str, str] = {}

        def value(key: str) -> str | None:
            # the CLI accepts CLARIFAI_PAT or a bare lowercase `pat`
            raw = env.get(key, env.get(key.removeprefix("CLARIFAI_").lower()))
            if raw == ENVVAR:
                raw = os.environ.get(key)
                if raw is None:
                    missing[key] = (
                        f"context {name!r} takes {key} from the environment (ENVVAR) "
                        f"but {key} is not set"
                    )
            if raw is None or isinstance(raw, (dict, list)):
                return None
            return str(raw) or None

        pat = value("CLARIFAI_PAT")
        has_base = "CLARIFAI_API_BASE" in env or "api_base" in env
        base = value("CLARIFAI_API_BASE")
        return cls(
            name=name,
            user_id=value("CLARIFAI_USER_ID"),
            api_base=base if has_base else DEFAULT_API_BASE,
            pat=Secret(pat) if pat else None,
            env=_hide_pats(env),
            missing=missing,
        )


@dataclass(frozen=True)
class ContextsFile:
    """What the config file holds: the current context's name and every context by name."""

    current: str | None
    contexts: dict[str, Context]
    path: Path

    def get(self, name: str | None = None) -> Context | None:
        """The context `name` (None: the current one, or None without one).

        An unknown name raises NotConfigured listing the known names."""
        if name is None:
            return self.contexts.get(self.current) if self.current else None
        if name not in self.contexts:
            known = ", ".join(self.contexts) or "none"
            raise NotConfigured(
                f"no Clarifai context named {name!r} in {self.path} (known: {known}); "
                "create it with `clarifai login --context NAME`"
            )
        return self.contexts[name]


def read_contexts(path: str | os.PathLike[str] | None = None) -> ContextsFile:
    """The contexts of the Clarifai CLI config file (a missing file -> no contexts).

    A file that cannot be read or is not in the CLI's format raises NotConfigured with one line
    naming the file and what is wrong."""
    p = config_path(path)
    raw = _load(p)
    contexts: dict[str, Context] = {}
    for name, body in _contexts_of(raw, p).items():
        contexts[name] = Context.from_env(name, body)
    current = raw.get("current_context")
    if current is not None and not isinstance(current, str):
        raise _bad(p, f"current_context must be a context name, not {type(current).__name__}")
    if current is not None and current not in contexts:
        # the CLI bootstraps `_empty_` with no contexts; anything else is a broken file
        if contexts:
            known = ", ".join(contexts)
            raise _bad(p, f"current_context {current!r} is not one of the contexts ({known})")
        current = None
    return ContextsFile(current=current, contexts=contexts, path=p)


def write_context(
    name: str,
    env: Mapping[str, str],
    *,
    path: str | os.PathLike[str] | None = None,
    make_current: bool = True,
) -> Path:
    """Add or replace the context `name` with the keys `env` (as `clarifai login` does: the
    context's old keys go, the other contexts and top-level keys stay); make it current unless
    `make_current=False`. Returns the file's path. Nothing is written when the existing file is
    malformed or an argument is bad (a one-line error says which)."""
    import yaml

    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise NotConfigured(
            f"context name {name!r} must be a non-empty name without surrounding spaces"
        )
    for key, value in env.items():
        if not isinstance(key, str) or not key:
            raise NotConfigured(f"context {name!r}: key {key!r} must be a non-empty string")
        if not isinstance(value, str):
            raise NotConfigured(
                f"context {name!r}: {key} must be a string, not {type(value).__name__}"
            )
    p = config_path(path)
    read_contexts(p)  # the whole file is checked before anything is written
    raw = _load(p)
    contexts = dict(raw.get("contexts") or {})  # the others as they are (even the env: layout)
    contexts[name] = dict(env)
    raw["contexts"] = contexts
    if make_current or not raw.get("current_context"):
        raw["current_context"] = name
    _replace_private(p, yaml.safe_dump(raw, sort_keys=True))
    return p


def local_context_env(
    grpc_url: str, token: str, data_dir: str | os.PathLike[str], user_id: str = "me"
) -> dict[str, str]:
    """The keys of the local control plane's context, for `write_context`: the official tools
    use the gRPC door (``http://127.0.0.1:PORT``, exactly: the SDK splits host and port), and
    connect() recognises the plane by its data dir and goes to its REST door instead."""
    return {
        "CLARIFAI_API_BASE": grpc_url.rstrip("/"),
        "CLARIFAI_PAT": token,
        "CLARIFAI_USER_ID": user_id,
        LOCAL_DATA_DIR_KEY: str(Path(data_dir).expanduser().absolute()),
    }


def _load(p: Path) -> dict[str, Any]:
    import yaml

    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(p, f"cannot be read ({type(exc).__name__}: {exc.args[-1]})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise _bad(p, f"{where}not valid YAML ({what})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(p, f"must be a mapping with current_context and contexts, not a {_kind(raw)}")
    return raw


def _contexts_of(raw: Mapping[str, Any], p: Path) -> dict[str, dict[str, Any]]:
    """{name: keys} of a loaded file; the CLI's older ``{name: {env: {...}}}`` is unwrapped."""
    contexts = raw.get("contexts")
    if contexts is None:
        return {}
    if not isinstance(contexts, dict):
        raise _bad(p, f"contexts must be a mapping of name -> keys, not a {_kind(contexts)}")
    out: dict[str, dict[str, Any]] = {}
    for name, body in contexts.items():
        body = {} if body is None else body
        if isinstance(body, dict) and isinstance(body.get("env"), dict):
            body = body["env"]
        if not isinstance(body, dict):
            raise _bad(p, f"context {name!r} must be a mapping of keys, not a {_kind(body)}")
        out[str(name)] = {str(k): v for k, v in body.items() if k != "name"}
    return out


def _replace_private(p: Path, text: str) -> None:
    """Write `text` to `p` atomically (a temp file in the same dir, then rename), mode 0600."""
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=p.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _hide_pats(env: Mapping[str, Any]) -> dict[str, Any]:
    """`env` with each PAT value (not the word ENVVAR) as a Secret."""

    def hidden(key: str, value: Any) -> Any:
        pat = key.upper() in ("CLARIFAI_PAT", "PAT") and isinstance(value, str)
        return Secret(value) if pat and value and value != ENVVAR else value

    return {k: hidden(k, v) for k, v in env.items()}


def _kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _bad(p: Path, what: str) -> NotConfigured:
    return NotConfigured(f"Clarifai CLI config {p}: {what}")
