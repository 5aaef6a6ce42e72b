"""`compute-widgets env`: point the official `clarifai` CLI and SDK at the running local plane.

    eval "$(compute-widgets env)"            # this shell's clarifai commands use the local plane
    compute-widgets env --context local      # or: a context in the Clarifai CLI config instead

The official tools speak gRPC only, so the base they get is the plane's gRPC door, written
exactly ``http://127.0.0.1:PORT``: clarifai 12.5 (``clarifai/client/auth/helper.py``) takes an
``http://`` base as plain text and splits the rest with ``host, port = base.split(":")``, so a
trailing slash or a path breaks it. ``CLARIFAI_API_BASE``, ``CLARIFAI_PAT`` and
``CLARIFAI_USER_ID`` beat any CLI context (``clarifai/utils/config.py``).

The printed lines never hold the token: ``CLARIFAI_PAT`` is read from the plane's token file
(mode 0600) when the shell evaluates them, so running the command where its output is kept (a
notebook's ``!`` cell, a CI log) shows a path, not a secret. A context must hold the token
itself (the CLI reads its values literally): `compute_widgets.api.contexts.write_context` puts
it in the CLI's config file (mode 0600, the other contexts kept) and nothing prints it. The
context also names the plane's data directory, so `connect()` recognises it and goes to the
REST door (the official tools use the gRPC one).

It never starts a server silently: without a running plane it fails with one line saying how to
start one, or starts one with ``--start`` and says so on stderr.
"""

from __future__ import annotations

import argparse
import hmac
import os
import shlex
import sys
from pathlib import Path
from typing import Any

ENV_NAMES = ("CLARIFAI_API_BASE", "CLARIFAI_PAT", "CLARIFAI_USER_ID")
SHELLS = ("sh", "bash", "zsh", "fish", "powershell")
DEFAULT_CONTEXT = "local"
# the user id the local plane answers to: its requests name "me" (as Clarifai allows for the
# caller) and crud.Plane.owner is "me"; a context with it works for every CLI verb
LOCAL_USER_ID = "me"


def add_parser(sub: Any) -> None:
    """The `env` subcommand on `compute-widgets`' subparsers."""
    e = sub.add_parser(
        "env",
        help="print shell lines pointing the official clarifai CLI/SDK at the local plane",
        description="Print the shell lines that point the official clarifai CLI and SDK at the "
        'running local control plane: eval "$(compute-widgets env)". With --context, write a '
        "context into the Clarifai CLI config instead.",
    )
    e.add_argument("--data-dir", default=None)
    e.add_argument("--shell", choices=SHELLS, default="sh", help="syntax of the lines (default sh)")
    e.add_argument(
        "--context",
        nargs="?",
        const=DEFAULT_CONTEXT,
        default=None,
        metavar="NAME",
        help=f"write context NAME (default {DEFAULT_CONTEXT}) into the Clarifai CLI config "
        "and make it current, instead of printing shell lines",
    )
    e.add_argument(
        "--config",
        default=None,
        metavar="PATH",
        help="the Clarifai CLI config file (default ~/.config/clarifai/config, as clarifai's)",
    )
    e.add_argument(
        "--start", action="store_true", help="start a control plane if none runs (says so)"
    )


# ---------------------------------------------------------------------------------------------
# what the official tools need


def grpc_base(handle: Any) -> str:
    """The plane's gRPC door as the official tools want it: ``http://127.0.0.1:PORT``."""
    from compute_widgets.local.runtime import ServerError

    url = getattr(handle, "grpc_url", None)
    if not url:
        raise ServerError(
            f"the control plane at {handle.url} (pid {handle.pid}) has no gRPC door (it was "
            "started by an older compute_widgets); restart it: compute-widgets stop && "
            "compute-widgets serve"
        )
    return str(url).rstrip("/")


def token_file(handle: Any) -> Path:
    """The plane's token file, checked to hold the token the plane answers to."""
    from compute_widgets.local.runtime import TOKEN_FILE, ServerError

    path = Path(handle.data_dir) / TOKEN_FILE
    try:
        held = path.read_text().strip()
    except OSError as e:
        raise ServerError(
            f"cannot read the control plane's token file {path}: {e.strerror}"
        ) from None
    if not hmac.compare_digest(held, handle.token):
        raise ServerError(
            f"the token file {path} does not belong to the running control plane (pid "
            f"{handle.pid}); restart it: compute-widgets stop && compute-widgets serve"
        )
    return path


def shell_lines(base: str, token_path: Path, user_id: str, shell: str = "sh") -> str:
    """The lines to evaluate: the base, the PAT read from `token_path`, the user id, and how to
    undo. They hold no token."""
    tp = str(token_path)
    undo = " ".join(ENV_NAMES)
    if shell == "fish":
        q = _fish_quote
        lines = [
            f"set -gx CLARIFAI_API_BASE {q(base)};",
            f"set -gx CLARIFAI_PAT (cat {q(tp)});",
            f"set -gx CLARIFAI_USER_ID {q(user_id)};",
            f"# To undo: set -e {'; set -e '.join(ENV_NAMES)}",
            "# Run this command to configure your shell:",
            "# compute-widgets env --shell fish | source",
        ]
    elif shell == "powershell":
        q = _ps_quote
        lines = [
            f"$Env:CLARIFAI_API_BASE = {q(base)}",
            f"$Env:CLARIFAI_PAT = (Get-Content -Raw {q(tp)}).Trim()",
            f"$Env:CLARIFAI_USER_ID = {q(user_id)}",
            "# To undo: Remove-Item " + ", ".join(f"Env:{n}" for n in ENV_NAMES),
            "# Run this command to configure your shell:",
            "# & compute-widgets env --shell powershell | Invoke-Expression",
        ]
    else:
        q = shlex.quote
        lines = [
            f"export CLARIFAI_API_BASE={q(base)}",
            f'export CLARIFAI_PAT="$(cat {q(tp)})"',
            f"export CLARIFAI_USER_ID={q(user_id)}",
            f"# To undo: unset {undo}",
            "# Run this command to configure your shell:",
            '# eval "$(compute-widgets env)"',
        ]
    return "\n".join(lines) + "\n"


def _fish_quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# the command


def run(args: argparse.Namespace) -> int:
    """`compute-widgets env [...]`; ServerError (one line) for everything the user can fix."""
    from compute_widgets.local.runtime import ServerError, ensure_server, find_server

    handle = find_server(args.data_dir)
    if handle is None:
        from compute_widgets.local.runtime import _resolve_data_dir

        dd = _resolve_data_dir(args.data_dir)
        if not args.start:
            raise ServerError(
                f"no control plane runs for {dd}; start one with `compute-widgets serve "
                f"--data-dir {shlex.quote(str(dd))}` (or run `compute-widgets env --start`)"
            )
        handle = ensure_server(dd)
        print(
            f"compute-widgets: started a control plane at {handle.url} (pid {handle.pid}) for "
            f"{dd}; it runs until `compute-widgets stop`",
            file=sys.stderr,
        )
    base = grpc_base(handle)
    if args.context is None:
        sys.stdout.write(shell_lines(base, token_file(handle), LOCAL_USER_ID, args.shell))
        return 0
    from compute_widgets.api import contexts
    from compute_widgets.api.errors import NotConfigured

    path = contexts.config_path(args.config)
    values = contexts.local_context_env(base, handle.token, handle.data_dir, LOCAL_USER_ID)
    try:  # a malformed config: one line, nothing written
        previous = contexts.read_contexts(path).current
        contexts.write_context(args.context, values, path=path)
    except NotConfigured as e:
        raise ServerError(f"{e}; fix or move it, or pass another file with --config") from None
    back = (
        f"; back with `clarifai config use-context {previous}`"
        if previous and previous != args.context
        else ""
    )
    print(
        f"compute-widgets: wrote context '{args.context}' ({base}, user {LOCAL_USER_ID}) to "
        f"{path} and made it current{back}"
    )
    shadowing = [n for n in ENV_NAMES if os.environ.get(n)]
    if shadowing:  # the CLI prefers them to any context
        print(
            f"compute-widgets: note: {', '.join(shadowing)} set in this environment override "
            f"every context; unset {' '.join(shadowing)} for '{args.context}' to take effect",
            file=sys.stderr,
        )
    return 0
