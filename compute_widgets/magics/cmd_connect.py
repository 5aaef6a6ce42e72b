"""`%compute connect [--local [--data-dir DIR] | --api-base URL | --context NAME] [--user-id U]`,
`%compute contexts` (the Clarifai CLI's contexts) and `%compute status`.

The token (PAT) is read only from the environment (CLARIFAI_PAT) or, for the local control
plane, from its 0600 runtime file. It is never accepted on the magic line: the line is saved
in the notebook and its history. A context's PAT stays in its config file: `%compute contexts`
shows names, users and API bases only.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from IPython.core.error import UsageError

from compute_widgets.magics.display import KeyValueTable

_SECRET_FLAGS = ("--pat", "--token", "--key", "--api-key", "--password")
_NO_TOKEN_ON_LINE = (
    "a token is never taken from the magic line (it would be saved in the notebook); "
    "set CLARIFAI_PAT in the environment, then run `%compute connect`"
)


def build_connect(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the embedded local control plane")
    where.add_argument("--api-base", metavar="URL", help="e.g. https://api.clarifai.com")
    where.add_argument(
        "--context", metavar="NAME", help="a Clarifai CLI context (`clarifai login`)"
    )
    p.add_argument("--data-dir", metavar="DIR", help="with --local: the control plane's data dir")
    p.add_argument("--user-id", metavar="USER", help="user ID (default CLARIFAI_USER_ID, or 'me')")
    # a token on the line is refused with a reason, and never echoed back by argparse
    p.add_argument(*_SECRET_FLAGS, dest="secret", nargs="?", const="", help=argparse.SUPPRESS)
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    p.hide_values = True  # type: ignore[attr-defined]  # see UsageParser.error


def run_connect(magics: Any, args: argparse.Namespace) -> Any:
    """Choose the backend of the magics: --local, --api-base URL (PAT from CLARIFAI_PAT), --context NAME
    (a Clarifai CLI context), or as connect() does: environment, current context, local.

    Only the magics switch; `compute_widgets.get_client()` in Python is left as it is.
    """
    if args.secret is not None:
        raise UsageError(_NO_TOKEN_ON_LINE)
    if args.extra:
        raise UsageError(
            f"`%compute connect` got {len(args.extra)} unexpected argument(s) (not shown, in case "
            f"one is a token); valid: --local [--data-dir DIR] | --api-base URL | --context NAME, "
            f"--user-id USER. "
            f"{_NO_TOKEN_ON_LINE}"
        )
    if args.data_dir and not args.local:
        raise UsageError("--data-dir goes with --local")
    from compute_widgets.settings import Settings

    kwargs: dict[str, Any] = {"user_id": args.user_id or magics.user_id or None}
    if args.local:
        kwargs["local"] = True
        if args.data_dir:
            kwargs["data_dir"] = args.data_dir
    elif args.api_base:
        kwargs["api_base"] = args.api_base
    elif args.context:
        kwargs["context"] = args.context
    settings = Settings.resolve(**kwargs)
    client = settings.client()
    magics.use_client(client, owned=True)
    table = status_table(client, "connected")
    if settings.context:
        table.rows.insert(1, ("context", settings.context))
    return table


def build_contexts(p: argparse.ArgumentParser) -> None:
    pass


def run_contexts(magics: Any, args: argparse.Namespace) -> Any:
    """The Clarifai CLI's contexts (~/.config/clarifai/config): name, user, API base, which is
    current. Never a PAT. Switch with `%compute connect --context NAME`."""
    from compute_widgets.api.contexts import read_contexts
    from compute_widgets.api.errors import NotConfigured

    try:
        found = read_contexts()
    except NotConfigured as exc:  # a malformed file: one line, what is wrong and where
        raise UsageError(str(exc)) from None
    return ContextsTable(found)


class ContextsTable:
    """The contexts as a table (HTML with a plain-text fallback); the current one is marked."""

    HEADERS = ("", "context", "user_id", "api_base")

    def __init__(self, found: Any) -> None:
        self.path = found.path
        self.current = found.current
        self.rows = [
            ("*" if name == found.current else "", name, c.user_id or "", c.api_base or "")
            for name, c in found.contexts.items()
        ]

    def __repr__(self) -> str:
        if not self.rows:
            return f"no Clarifai contexts in {self.path} (create one with `clarifai login`)"
        widths = [max(len(str(r[i])) for r in (self.HEADERS, *self.rows)) for i in range(4)]
        lines = [f"Clarifai contexts ({self.path})"]
        for row in (self.HEADERS, *self.rows):
            lines.append("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from compute_widgets.api import html_table

        if not self.rows:
            return html_table(None, [], caption=repr(self))
        current = next((i for i, r in enumerate(self.rows) if r[0]), None)
        return html_table(
            self.HEADERS,
            self.rows,
            caption=f"Clarifai contexts ({self.path})",
            highlight=current,
            highlight_attrs="style='font-weight:bold'",
        )


def build_status(p: argparse.ArgumentParser) -> None:
    pass


def run_status(magics: Any, args: argparse.Namespace) -> Any:
    """Which backend, which user, server health (the token is never shown)."""
    return status_table(magics.get_client(), "compute status")


def status_table(client: Any, title: str) -> KeyValueTable:
    is_local = bool(getattr(client, "is_local", False))
    host = urlsplit(str(client.base_url)).hostname or ""
    if is_local:
        backend = "local control plane"
    elif host.endswith("clarifai.com"):
        backend = "Clarifai API"
    else:
        backend = "remote API"
    rows = [
        ("backend", backend),
        ("api_base", str(client.base_url)),
        ("user_id", str(client.user_id)),
        ("token", "set" if has_token(client) else "none"),
    ]
    try:
        health = client.health()
        summary = ", ".join(f"{k}={v}" for k, v in health.items() if not isinstance(v, dict | list))
        rows.append(("health", f"ok ({summary})" if summary else "ok"))
    except Exception as exc:  # status reports a dead server; it does not fail on one
        from compute_widgets.magics.errors import scrub

        rows.append(("health", scrub(f"unreachable: {type(exc).__name__}: {exc}", client)))
    return KeyValueTable(title, rows)


def has_token(client: Any) -> bool:
    return bool(getattr(client, "secret", None))
