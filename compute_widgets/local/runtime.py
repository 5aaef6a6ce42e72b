"""Start, find and stop the local control plane; the `compute-widgets` console script.

One server per data directory: the server holds an exclusive ``flock`` on
``<data dir>/serve.lock`` for its whole life (the file names its pid and url), so a second
``serve`` on the same directory exits at once with a one-line error naming the first, and a
runtime file is live exactly while that lock is held (a reused pid cannot fake it). The data
directory holds the SQLite store (checked with ``PRAGMA quick_check`` at start: a damaged store
is refused, never written), the token file (a fresh token at every start, mode 0600), the server
log and the lock files. While a server runs it writes a runtime file
``jupyter_runtime_dir()/compute-widgets-<hash of data dir>.json`` (``{url, token, pid,
data_dir}``, mode 0600) that `find_server` (and so `connect()`) reads; the server removes it when
it exits.

Before the token is sent anywhere, the caller proves the server is the one the runtime file
names: ``GET /local/identity?nonce=<random>`` (unauthenticated) must answer
HMAC-SHA256(token, nonce), and the authenticated request then goes over that same connection. A
process that took over the port of a dead server cannot answer, and never sees the token.

Lifetime: a server started by `start_server`/`ensure_server` is a detached process (its own
session, output to ``<data dir>/server.log``), so it **outlives the kernel that started it** and
is shared by every kernel that uses the same data directory: restarting a kernel does not lose a
running simulation, and two notebooks see the same clusters. It is stopped by `stop_server`,
``compute-widgets stop``, or by the Jupyter server extension (`compute_widgets.local.jupyter`)
at Jupyter shutdown when that extension started it. `ensure_server` holds an exclusive
``fcntl.flock`` on ``<data dir>/server.lock`` around find-or-start, so kernels starting at the
same moment end up sharing one server.

The server binds 127.0.0.1 only and checks ``Authorization: Key <token>`` on every request.
The token never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from compute_widgets.api import identity_proof
from compute_widgets.api.errors import ComputeError

HOST = "127.0.0.1"
DATA_DIR_ENV = "COMPUTE_WIDGETS_DATA_DIR"
TOKEN_FILE = "token"
STORE_FILE = "store.sqlite3"
LOG_FILE = "server.log"
LOCK_FILE = "server.lock"  # held by ensure_server around find-or-start
SERVE_LOCK_FILE = "serve.lock"  # held by the running server for its whole life
START_TIMEOUT = 60.0

# Popen objects of the servers this process spawned: kept so they are reaped (no zombie that
# looks alive to os.kill(pid, 0)) and never garbage-collected while running.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServerError(ComputeError):
    """The local control plane could not be started, found or stopped (message says why).

    A ComputeError: listed in the exception tree of api/errors.py's docstring."""


@dataclasses.dataclass(frozen=True)
class ServerHandle:
    """A running local control plane. `token` is hidden from the repr."""

    url: str
    token: str = dataclasses.field(repr=False)
    pid: int
    data_dir: Path
    started: bool = dataclasses.field(default=False, compare=False)  # started by this call
    # the gRPC door (`local.grpc_door`): the CLARIFAI_API_BASE of the official CLI and SDK
    grpc_url: str = dataclasses.field(default="", compare=False)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def log_path(self) -> Path:
        return Path(self.data_dir) / LOG_FILE

    @property
    def runtime_file(self) -> Path:
        return runtime_file_for(self.data_dir)


# ---------------------------------------------------------------------------------------------
# paths and files


def default_data_dir() -> Path:
    """`$COMPUTE_WIDGETS_DATA_DIR`, else `jupyter_data_dir()/compute_widgets`."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "compute_widgets"


def _resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    path = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    return path.absolute().resolve()


def runtime_file_for(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The runtime file of the server of `data_dir` (whether or not it exists)."""
    from jupyter_core.paths import jupyter_runtime_dir

    key = hashlib.sha256(str(_resolve_data_dir(data_dir)).encode()).hexdigest()[:16]
    return Path(jupyter_runtime_dir()) / f"compute-widgets-{key}.json"


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (the file is never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def prepare_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Create the data dir and prove it is writable; one clear `ServerError` if it is not."""
    path = _resolve_data_dir(data_dir)
    hint = f"Choose another with --data-dir or ${DATA_DIR_ENV}."
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # the store holds cluster keys
    except OSError as e:
        raise ServerError(
            f"Cannot create the compute_widgets data directory {path}: {_why(e)}. {hint}"
        ) from None
    if not path.is_dir():
        raise ServerError(f"The compute_widgets data directory {path} is not a directory. {hint}")
    probe = path / f".write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # a full disk fails here, not in the middle of a request; a nearly full one may
            # accept part of the write without an error, so a short write counts as full too
            if os.write(fd, b"\0" * 65536) != 65536:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise ServerError(
            f"The compute_widgets data directory {path} is not writable: {_why(e)}. {hint}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return path


def _why(e: OSError) -> str:
    names = {
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
    }
    return names.get(e.errno or 0, e.strerror or str(e))


def new_token(data_dir: Path) -> str:
    """A fresh server token for this start, written to `<data dir>/token` (mode 0600).

    Never reused: a token that went to a process squatting on a dead server's port, or that
    a client of the previous server still holds, is worthless against the next one.
    """
    token = secrets.token_urlsafe(32)
    _write_private(data_dir / TOKEN_FILE, token + "\n")
    return token


def _hold_serve_lock(data_dir: Path, url: str, wait: float = 2.0) -> int:
    """Take the data directory's serve lock for this process's life; its fd (close = release).

    Raises ServerError naming the server that holds it. `wait` covers `_serve_lock_holder`
    probes, which hold a shared lock for a moment.
    """
    fd = os.open(data_dir / SERVE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            os.close(fd)
            holder = _read_holder(data_dir)
            raise ServerError(
                f"a control plane already serves {data_dir} (pid {holder.get('pid', '?')}, "
                f"url {holder.get('url', '?')}); stop it with `compute-widgets stop` "
                "or use --data-dir"
            ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
    return fd


def _read_holder(data_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads((data_dir / SERVE_LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _serve_lock_holder(data_dir: Path) -> dict[str, Any] | None:
    """`{pid, url}` of the server holding the serve lock of `data_dir`, or None when none does.

    The lock, not the pid, says whether a server lives: a pid can be reused by any process.
    """
    try:
        fd = os.open(data_dir / SERVE_LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(data_dir)
            pid = holder.get("pid")
            # a killed server holds its lock until its last thread is gone, a moment after it
            # shows as a zombie: dying is not serving
            if isinstance(pid, int) and not _pid_alive(pid):
                return None
            return holder
        return None  # closing the fd drops the shared lock at once
    finally:
        os.close(fd)


def _read_runtime(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable or half-written: treated as stale
    return info if isinstance(info, dict) else {}


def _remove_runtime_if(path: Path, pid: int | None) -> None:
    """Remove the runtime file, but only if it still describes `pid` (or is broken)."""
    info = _read_runtime(path)
    if info is None:
        return
    if pid is None or not info or info.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ---------------------------------------------------------------------------------------------
# processes and health


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:  # our child: reap it, no zombie
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # a zombie (exited, not yet reaped by a parent that is not us) is dead for us
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class _NewConnection(Exception):
    """The authenticated request would have gone over a connection that was not verified."""


def _same_connection_only(name: str, info: dict[str, Any]) -> None:
    if name == "connection.connect_tcp.started":
        raise _NewConnection




def _verified(http: httpx.Client, url: str, token: str, pid: int | None) -> bool:
    """Does the server at `url` prove it holds `token` (and runs as `pid`)? Sends no token."""
    nonce = secrets.token_urlsafe(24)
    r = http.get(f"{url}/local/identity", params={"nonce": nonce})
    try:
        body = r.json() if r.status_code == 200 else None
    except ValueError:
        return False
    if not isinstance(body, dict) or not isinstance(body.get("proof"), str):
        return False
    if pid is not None and body.get("pid") != pid:
        return False
    return hmac.compare_digest(body["proof"], identity_proof(token, nonce))


def _health(
    url: str, token: str, timeout: float = 2.0, pid: int | None = None
) -> dict[str, Any] | None:
    """GET /local/health with the token, sent only to a server that proved it holds the token
    (over the same connection): the JSON body when it answers SUCCESS, else None."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    try:  # trust_env=False: never send the token to an HTTP(S)_PROXY
        with httpx.Client(timeout=timeout, trust_env=False, limits=limits) as http:
            if not _verified(http, url, token, pid):
                return None
            r = http.get(
                f"{url}/local/health",
                headers={"Authorization": f"Key {token}"},
                extensions={"trace": _same_connection_only},
            )
    except (httpx.HTTPError, _NewConnection):
        return None
    if r.status_code != 200:
        return None
    try:
        body = r.json()
    except ValueError:
        return None
    status = body.get("status") if isinstance(body, dict) else None
    if isinstance(status, dict) and status.get("code", 10000) != 10000:
        return None
    return body if isinstance(body, dict) else {}


_REFUSAL = "compute-widgets: error: "


def _refusal(log_path: Path) -> str | None:
    """The one-line error a server that refused to start wrote last (see `main`), if any."""
    try:
        lines = log_path.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return None
    if lines and lines[-1].startswith(_REFUSAL):
        return lines[-1][len(_REFUSAL) :]
    return None


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return tail or "(server log is empty)"


# ---------------------------------------------------------------------------------------------
# public API


def find_server(data_dir: str | os.PathLike[str] | None = None) -> ServerHandle | None:
    """The live server of `data_dir` that proves its identity, or None.

    A runtime file whose server no longer holds the serve lock is stale and is removed (whether
    or not its pid now belongs to another process); the token is sent to nobody else.
    """
    dd = _resolve_data_dir(data_dir)
    path = runtime_file_for(dd)
    info = _read_runtime(path)
    if info is None:
        return None
    try:
        url, token, pid = str(info["url"]), str(info["token"]), int(info["pid"])
    except (KeyError, TypeError, ValueError):
        _remove_runtime_if(path, None)
        return None
    holder = _serve_lock_holder(dd)
    if holder is None or holder.get("pid") != pid:
        if holder is None:  # a server being started writes its file after taking the lock
            _remove_runtime_if(path, pid)
        return None
    deadline = time.monotonic() + 3.0
    while _health(url, token, pid=pid) is None:
        if time.monotonic() > deadline or _serve_lock_holder(dd) is None:
            return None  # alive but not answering (wedged): not usable
        time.sleep(0.1)  # alive: maybe still starting or briefly busy
    return ServerHandle(
        url=url, token=token, pid=pid, data_dir=dd, grpc_url=str(info.get("grpc_url") or "")
    )


def start_server(
    data_dir: str | os.PathLike[str] | None = None,
    port: int = 0,
    demo: bool = False,
    background: bool = True,
    timeout: float = START_TIMEOUT,
) -> ServerHandle:
    """Start a server for `data_dir` and wait until it answers.

    `background=True` (default): a detached `python -m compute_widgets.local serve` process
    that outlives this one. `background=False`: uvicorn in a daemon thread of this process
    (dies with it; `stop_server` stops the thread).
    """
    dd = prepare_data_dir(data_dir)
    if not background:
        return _start_in_thread(dd, port, demo, timeout)
    log_path = dd / LOG_FILE
    cmd = _serve_argv(dd, port, demo)
    # The child must import this same compute_widgets, also from a source checkout that is
    # only on the kernel's sys.path; it runs in the data dir so it pins no notebook directory.
    pkg_root = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed by the kernel's Ctrl-C / process group
            close_fds=True,
            env=env,
            cwd=dd,
        )
    _CHILDREN[proc.pid] = proc
    path = runtime_file_for(dd)
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            refusal = _refusal(log_path)
            if refusal:  # it said why in one line (another server, a damaged store, ...)
                raise ServerError(refusal)
            raise ServerError(
                f"The local control plane exited at start (code {proc.returncode}). "
                f"Last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        info = _read_runtime(path)
        if info and info.get("pid") == proc.pid:
            handle = ServerHandle(
                url=str(info["url"]),
                token=str(info["token"]),
                pid=proc.pid,
                data_dir=dd,
                started=True,
                grpc_url=str(info.get("grpc_url") or ""),
            )
            if _health(handle.url, handle.token, pid=proc.pid) is not None:
                return handle
        if time.monotonic() > deadline:
            _terminate(proc.pid, grace=5.0)
            raise ServerError(
                f"The local control plane did not answer within {timeout:.0f} s. "
                f"Last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def _serve_argv(data_dir: Path, port: int, demo: bool) -> list[str]:
    """The command `start_server` spawns (a seam for tests of the runtime alone)."""
    cmd = [sys.executable, "-m", "compute_widgets.local", "serve", "--port", str(port)]
    return cmd + ["--data-dir", str(data_dir)] + (["--demo"] if demo else [])


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def ensure_server(
    data_dir: str | os.PathLike[str] | None = None, demo: bool = False
) -> ServerHandle:
    """The live server of `data_dir`, started in the background if none answers.

    Safe to call from several processes at once: they all get the same server.
    """
    dd = prepare_data_dir(data_dir)
    with _locked(dd):
        handle = find_server(dd)
        if handle is not None:
            return handle
        holder = _serve_lock_holder(dd)
        if holder is not None:  # alive but not answering: never start a second one beside it
            raise ServerError(
                f"the control plane of {dd} (pid {holder.get('pid', '?')}, url "
                f"{holder.get('url', '?')}) runs but does not answer its health check (see "
                f"{dd / LOG_FILE}); stop it with `compute-widgets stop --data-dir {dd}`"
            )
        return start_server(dd, port=0, demo=demo)


def stop_server(handle: ServerHandle, timeout: float = 10.0) -> None:
    """Stop the server: SIGTERM, wait up to `timeout` s, then SIGKILL. No-op if already gone."""
    in_thread = _THREAD_SERVERS.pop(handle.url, None)
    if in_thread is not None:
        server, thread, lock = in_thread
        server.should_exit = True
        thread.join(timeout)
        _remove_runtime_if(runtime_file_for(handle.data_dir), handle.pid)
        os.close(lock)
        return
    if handle.pid == os.getpid():
        return  # an in-thread server of this process that is already stopped
    holder = _serve_lock_holder(Path(handle.data_dir)) or {}
    ours = handle.pid in _CHILDREN or holder.get("pid") == handle.pid
    if ours:  # never signal a pid that may have been reused by an unrelated process
        _terminate(handle.pid, grace=timeout)
    # after SIGKILL the server could not clean up after itself
    _remove_runtime_if(runtime_file_for(handle.data_dir), handle.pid)


def _terminate(pid: int, grace: float) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not _pid_alive(pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)


# ---------------------------------------------------------------------------------------------
# the server itself


def _bind(host: str, port: int) -> socket.socket:
    if host != HOST:
        raise ServerError(
            f"The local control plane binds {HOST} only (got host {host!r}); it is a "
            "single-user server guarded by a token, not meant to be reachable from the network."
        )
    # proto given explicitly: asyncio then sets TCP_NODELAY on accepted connections (without it,
    # Nagle + delayed ACK stalled every request by ~40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServerError(f"Cannot listen on {host}:{port}: {e.strerror or e}.") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def build_app(
    data_dir: Path, token: str, demo: bool = False, on_started: Any = None
) -> Any:
    """Store, catalog, clock, metrics engine (when available) and the FastAPI app."""
    from compute_widgets.local.app import create_app
    from compute_widgets.local.catalog import Catalog
    from compute_widgets.local.clock import Clock
    from compute_widgets.local.store import Store, StoreDamaged

    try:
        store = Store(data_dir / STORE_FILE)
    except StoreDamaged as e:  # one line that says what to do, not a DatabaseError traceback
        raise ServerError(str(e)) from None
    catalog = Catalog.load()
    # the simulated time survives a restart: the offset lives in the store
    clock = Clock.from_env(offset_seconds=store.get_clock_offset())  # the app saves it on advance
    store.now = clock.now  # writes are stamped with the clock's time, pinned or not
    metrics = None
    try:
        from compute_widgets.local import metrics as metrics_mod
    except ImportError as e:  # serve without it: node counts come from the store
        metrics_mod = None
        print(f"compute-widgets: metrics engine unavailable ({e}); serving without it", flush=True)
    if metrics_mod is not None:
        metrics = metrics_mod.MetricsEngine(store, catalog, clock)
        if demo:
            metrics_mod.seed_demo(store)
    elif demo:
        print("compute-widgets: --demo needs the metrics engine; not seeded", flush=True)
    return create_app(store, catalog, clock, token, metrics=metrics, on_started=on_started)


def _make_uvicorn(app: Any) -> Any:
    """uvicorn with read deadlines, a connection cap and a loop monitor (`local.serving`)."""
    from compute_widgets.local.serving import make_server

    return make_server(app)


def serve(
    port: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    demo: bool = False,
    host: str = HOST,
) -> None:
    """Run the control plane in the foreground until SIGTERM/SIGINT (`compute-widgets serve`)."""
    sock = _bind(host, port)
    lock = None
    try:
        dd = prepare_data_dir(data_dir)
        url = f"http://{HOST}:{sock.getsockname()[1]}"
        lock = _hold_serve_lock(dd, url)  # released when this process ends, however it ends
        from compute_widgets.local.serving import configure_server_log

        configure_server_log(dd / LOG_FILE)  # rotated: 1 MB x 3, stdout/stderr included
        token = new_token(dd)
        path = runtime_file_for(dd)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

        def started(state: Any) -> None:  # both doors listen: now clients may find us
            info = {"url": url, "token": token, "pid": os.getpid(), "data_dir": str(dd)}
            info["grpc_url"] = state.grpc_url
            _write_private(path, json.dumps(info))
            grpc = f", gRPC {state.grpc_url}" if state.grpc_url else ""
            print(
                f"compute-widgets: serving {url}{grpc} (data dir {dd}, pid {os.getpid()})",
                flush=True,
            )

        server = _make_uvicorn(build_app(dd, token, demo, on_started=started))
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; with the default
        # handlers the process would die before removing the runtime file.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        try:
            server.run(sockets=[sock])
        finally:
            _remove_runtime_if(path, os.getpid())
    finally:
        sock.close()
        if lock is not None:
            os.close(lock)  # after the runtime file is gone: a live lock means a live file


# in-process servers (start_server(background=False)), by url: server, thread, serve lock fd
_THREAD_SERVERS: dict[str, tuple[Any, threading.Thread, int]] = {}


def _start_in_thread(dd: Path, port: int, demo: bool, timeout: float) -> ServerHandle:
    sock = _bind(HOST, port)
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    try:
        lock = _hold_serve_lock(dd, url)
    except ServerError:
        sock.close()
        raise
    try:
        token = new_token(dd)
        app = build_app(dd, token, demo)
        server = _make_uvicorn(app)
    except BaseException:
        sock.close()
        os.close(lock)
        raise
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="compute-widgets-server", daemon=True
    )
    thread.start()
    _THREAD_SERVERS[url] = (server, thread, lock)
    deadline = time.monotonic() + timeout
    while _health(url, token, pid=os.getpid()) is None:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5.0)
            _THREAD_SERVERS.pop(url, None)
            os.close(lock)
            raise ServerError("The in-process local control plane did not start.")
        time.sleep(0.02)
    grpc_url = app.state.grpc_url  # set by the lifespan, which ran before the first answer
    handle = ServerHandle(
        url=url, token=token, pid=os.getpid(), data_dir=dd, started=True, grpc_url=grpc_url
    )
    path = runtime_file_for(dd)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = {"url": url, "token": token, "pid": os.getpid(), "data_dir": str(dd)}
    info["grpc_url"] = grpc_url
    _write_private(path, json.dumps(info))
    return handle


# ---------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compute-widgets", description="The compute_widgets local control plane."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server in the foreground")
    s.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    s.add_argument(
        "--data-dir",
        default=None,
        help=f"data directory (default ${DATA_DIR_ENV} or <jupyter data dir>/compute_widgets)",
    )
    s.add_argument(
        "--demo", action="store_true", help="seed example clusters and a week of history"
    )
    s.add_argument("--host", default=HOST, help=argparse.SUPPRESS)
    for name, text in (("status", "show the running server"), ("stop", "stop the running server")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--data-dir", default=None)
    from compute_widgets.local import clarifai_env  # `env`: the official clarifai tools' lines

    clarifai_env.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`compute-widgets serve|status|stop|env`; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            serve(port=args.port, data_dir=args.data_dir, demo=args.demo, host=args.host)
            return 0
        if args.command == "env":
            from compute_widgets.local import clarifai_env

            return clarifai_env.run(args)
        dd = _resolve_data_dir(args.data_dir)
        handle = find_server(dd)
        holder = _serve_lock_holder(dd) if handle is None else None
        if handle is None and holder is not None and isinstance(holder.get("pid"), int):
            # holds the data dir but does not answer: status says so, stop still stops it
            pid, url = holder["pid"], holder.get("url", "?")
            if args.command == "status":
                print(f"compute-widgets: pid {pid} holds {dd} (url {url}) but does not answer")
                return 1
            if pid != os.getpid():
                _terminate(pid, grace=10.0)
            _remove_runtime_if(runtime_file_for(dd), pid)
            print(f"compute-widgets: stopped the server at {url} (pid {pid})")
            return 0
        if handle is None:
            print(f"compute-widgets: no server running for {dd}")
            return 1
        if args.command == "status":
            print(f"compute-widgets: running at {handle.url} (pid {handle.pid}, data dir {dd})")
            return 0
        stop_server(handle)
        print(f"compute-widgets: stopped the server at {handle.url} (pid {handle.pid})")
        return 0
    except ServerError as e:
        print(f"compute-widgets: error: {e}", file=sys.stderr)
        return 2
