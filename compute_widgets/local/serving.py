"""How the local control plane holds up under hostile or unlucky load (the HTTP side only).

- **Read deadlines.** uvicorn has a keep-alive timeout but no deadline for reading a request:
  a client that sends half a request head and stops (slowloris) kept its connection, and its
  file descriptor, forever. A connection waiting for a request must deliver the complete head
  within `HEAD_TIMEOUT` s (counted from when it opened, or from its previous response), and
  the body within `BODY_TIMEOUT` s after the head; otherwise it is closed, without a log line.
- **A cap on open connections**, below the process's file descriptor limit (out of fds, the
  accept loop stopped and every client starved). A connection over the cap evicts the oldest
  connection that has not completed a request head yet (never-served ones first, then idle
  keep-alive ones); a connection with a request in flight is never evicted. So a flood of
  half-open connections cannot keep a real client (an authenticated health check) out.
- **Quiet loop errors.** asyncio logs every accept failure with a traceback (52 MB in 12 s
  under a flood); here each kind of loop error is one line, at most once per `QUIET_S` s, with
  the number suppressed since.
- **A bounded log**: `configure_server_log` rotates ``server.log`` at 1 MB, 3 backups kept.
- **Loop monitor**: a task that sleeps 10 ms and records how late it wakes up: the longest
  time the event loop was blocked, read from ``GET /local/stats``.
- **A frozen heap** (when the server is the process): the objects alive after start-up, and
  the survivors of each full collection, are moved out of the garbage collector's reach
  (`gc.freeze`); a full collection rescanning them (modules, numba, the metrics cache) stalled
  the loop 270-355 ms.
- **Simulator warm-up**: numba compiles (first run after install, 7-13 s) or loads (0.3 s) the
  kernel in a thread at start, not inside the first request.

Tuning (environment of the server process): ``COMPUTE_WIDGETS_HEAD_TIMEOUT``,
``COMPUTE_WIDGETS_BODY_TIMEOUT`` (seconds), ``COMPUTE_WIDGETS_MAX_CONNECTIONS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import logging.handlers
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("compute_widgets.local")

HEAD_TIMEOUT = 10.0  # s to send a complete request head (nginx client_header_timeout: 60 s)
BODY_TIMEOUT = 30.0  # s to send the body after the head (MAX_BODY is 1 MB: ms on loopback)
MAX_CONNECTIONS = 1000  # a single-user server; the fd limit may lower it
FD_RESERVE = 160  # fds kept for SQLite (3 per threadpool thread), the log, numba, ...
LOG_MAX_BYTES = 1024 * 1024
LOG_BACKUPS = 3
LISTEN_BACKLOG = 2048  # the kernel's queue of connections not accepted yet
QUIET_S = 10.0  # one line per kind of loop error per this many seconds
MONITOR_TICK = 0.010  # s


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class Limits:
    head_timeout: float = HEAD_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    # how many connections asyncio accepts per wake-up: it sets them all up in one loop
    # iteration (1,000 at once stalled the loop 330 ms); the kernel's queue stays LISTEN_BACKLOG
    accept_burst: int = 64

    @classmethod
    def for_this_process(cls) -> Limits:
        """The limits from the environment, fitted to the fd limit (raised to the hard one).

        Accepted sockets take an fd before any protocol sees them (asyncio accepts up to
        `backlog` per wake-up), so connections + backlog + reserve must fit under the limit.
        """
        with contextlib.suppress(ValueError, OSError):
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if hard == resource.RLIM_INFINITY or soft < hard:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            soft = 65536
        burst = max(8, min(64, soft // 16))
        fit = max(8, soft - FD_RESERVE - burst)
        wanted = int(_env_float("COMPUTE_WIDGETS_MAX_CONNECTIONS", MAX_CONNECTIONS))
        return cls(
            head_timeout=_env_float("COMPUTE_WIDGETS_HEAD_TIMEOUT", HEAD_TIMEOUT),
            body_timeout=_env_float("COMPUTE_WIDGETS_BODY_TIMEOUT", BODY_TIMEOUT),
            max_connections=min(wanted, fit),
            accept_burst=burst,
        )


# ---------------------------------------------------------------------------------------------
# connections

_HEAD, _BODY, _BUSY = "head", "body", "busy"  # waiting for a request head / its body / serving


class ConnectionTable:
    """The open connections of one server, oldest first, and what happened to the others."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: dict[GuardedH11Protocol, None] = {}  # insertion order = age
        self.counts = {"head_timeouts": 0, "body_timeouts": 0, "evicted": 0, "refused": 0}
        self.peak = 0

    def admit(self, conn: GuardedH11Protocol) -> None:
        self.open[conn] = None
        self.peak = max(self.peak, len(self.open))
        while len(self.open) > self.limits.max_connections:
            victim = self._victim()
            if victim is None:  # every other connection is serving a request: refuse this one
                self.counts["refused"] += 1
                conn.drop()
                return
            self.counts["evicted"] += 1
            victim.drop()

    def _victim(self) -> GuardedH11Protocol | None:
        waiting = [c for c in self.open if c.phase == _HEAD]
        never_served = [c for c in waiting if not c.served]
        pick = never_served or waiting
        return pick[0] if pick else None

    def evict_idle(self, n: int) -> int:
        """Close up to n connections waiting for a request head, oldest first (out of fds)."""
        victims = [c for c in self.open if c.phase == _HEAD][:n]
        for c in victims:
            self.counts["evicted"] += 1
            c.drop()
        return len(victims)

    def discard(self, conn: GuardedH11Protocol) -> None:
        self.open.pop(conn, None)

    def stats(self) -> dict[str, Any]:
        phases = {_HEAD: 0, _BODY: 0, _BUSY: 0}
        for c in self.open:
            phases[c.phase] += 1
        return {
            "open": len(self.open),
            "peak": self.peak,
            "max": self.limits.max_connections,
            "waiting_for_head": phases[_HEAD],
            "reading_body": phases[_BODY],
            "serving": phases[_BUSY],
            "head_timeout_s": self.limits.head_timeout,
            "body_timeout_s": self.limits.body_timeout,
            **self.counts,
        }


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with read deadlines and a place in the `ConnectionTable`."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.table: ConnectionTable = config.connection_table
        self.phase = _HEAD
        self.served = 0  # requests answered on this connection
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(_HEAD)
        self.table.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.table.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        self.served += 1
        super().on_response_complete()
        self._track()

    def drop(self) -> None:
        """Close now, quietly (eviction or a missed deadline)."""
        self._cancel()
        self.table.discard(self)
        if not self.transport.is_closing():
            self.transport.abort()  # no lingering FIN_WAIT buffers for a hostile peer

    # -- deadlines ---------------------------------------------------------------------------

    def _track(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            self._enter(_HEAD)
        elif state is h11.SEND_BODY:
            self._enter(_BODY)
        else:  # the request is complete (or the connection is closing): the app has it
            self._enter(_BUSY)

    def _enter(self, phase: str) -> None:
        if phase == self.phase and (self._deadline is not None or phase == _BUSY):
            return
        self._cancel()
        self.phase = phase
        if phase == _BUSY:
            return
        limits = self.table.limits
        wait = limits.head_timeout if phase == _HEAD else limits.body_timeout
        self._deadline = self.loop.call_later(wait, self._expired, phase)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.phase != phase:
            return
        self.table.counts["head_timeouts" if phase == _HEAD else "body_timeouts"] += 1
        self.drop()


# ---------------------------------------------------------------------------------------------
# the event loop: its longest stall, its errors


@dataclass
class LoopMonitor:
    """Sleeps `MONITOR_TICK` s in a loop; how late it wakes is how long the loop was blocked."""

    max_stall_s: float = 0.0  # since start
    window_stall_s: float = 0.0  # since the last `read()`
    stalls_over_100ms: int = 0
    ticks: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-monitor")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        clock = time.perf_counter
        while True:
            t0 = clock()
            await asyncio.sleep(MONITOR_TICK)
            late = max(0.0, clock() - t0 - MONITOR_TICK)
            self.ticks += 1
            self.max_stall_s = max(self.max_stall_s, late)
            self.window_stall_s = max(self.window_stall_s, late)
            if late > 0.1:
                self.stalls_over_100ms += 1

    def read(self) -> dict[str, Any]:
        out = {
            "max_stall_ms": round(self.max_stall_s * 1000, 2),
            "max_stall_ms_since_last_read": round(self.window_stall_s * 1000, 2),
            "stalls_over_100ms": self.stalls_over_100ms,
            "ticks": self.ticks,
        }
        self.window_stall_s = 0.0
        return out


class GcWatch:
    """How long the garbage collector's full (generation 2) collections take: they hold the
    GIL, so each one is a loop stall (`/local/stats` shows them beside the loop's).

    After each full collection, its survivors are frozen (`keep_frozen`): the next full
    collection scans only what was allocated since, not the whole metrics cache again (5,000
    pools: 48 full collections up to 355 ms each). The price: a frozen object that later
    becomes part of unreachable *cyclic* garbage is not freed; the long-lived data here (the
    store's rows, the metrics cache) holds no cycles and is freed by reference counting.
    """

    def __init__(self) -> None:
        self.full = 0
        self.longest_s = 0.0
        self._t0 = 0.0
        self._frozen_after = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, freeze: bool) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        if freeze:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self.keep_frozen(), name="gc-freeze")

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self)
        if self._task is not None:
            self._task.cancel()

    async def keep_frozen(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.full != self._frozen_after:
                self._frozen_after = self.full
                gc.freeze()  # cheap: moves the survivors' list, scans nothing

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.full += 1
            self.longest_s = max(self.longest_s, time.perf_counter() - self._t0)

    def read(self) -> dict[str, Any]:
        return {
            "full_collections": self.full,
            "longest_full_ms": round(self.longest_s * 1000, 2),
            "frozen_objects": gc.get_freeze_count(),
        }


class QuietLoopErrors:
    """A loop exception handler: one line per kind of error per `QUIET_S` s, no traceback for
    connection-level errors. Out of fds, it also frees some by closing idle connections."""

    def __init__(self, table: ConnectionTable | None) -> None:
        self.table = table
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        if "out of system resource" in message and self.table is not None:
            freed = self.table.evict_idle(max(8, len(self.table.open) // 10))
            message += f" (closed {freed} idle connections)"
            key = "accept"
        else:  # not the whole message: a callback's repr differs per connection
            key = f"{type(exc).__name__}: {message[:40]}"
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < QUIET_S:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        more = self._suppressed.pop(key, 0)
        line = f"{message}: {type(exc).__name__}: {exc}" if exc else message
        if more:
            line += f" ({more} more like it in the last {QUIET_S:.0f} s not logged)"
        noisy = exc is not None and not isinstance(exc, (OSError, TimeoutError))
        log.warning(line, exc_info=exc if noisy else None)


# ---------------------------------------------------------------------------------------------
# the log


class _RotatingLog(logging.handlers.RotatingFileHandler):
    """Rotates ``server.log``; when the process's stdout/stderr are that file (the server was
    started detached), they follow each new file, so a stray print cannot grow it unbounded."""

    def __init__(self, path: Path, redirect_std: bool) -> None:
        super().__init__(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
        self.redirect_std = redirect_std
        self._point_std()

    def doRollover(self) -> None:  # noqa: N802 (logging's name)
        super().doRollover()
        self._point_std()

    def _point_std(self) -> None:
        if self.redirect_std and self.stream is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(self.stream.fileno(), 1)  # append mode: no two offsets overwriting lines
            os.dup2(self.stream.fileno(), 2)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def configure_server_log(path: Path) -> logging.Handler:
    """Log the server (ours, uvicorn's, asyncio's) to `path`, rotated at `LOG_MAX_BYTES`.

    A server started in the background writes its stdout/stderr to that same file: they are
    re-pointed at the rotating file. A server in a terminal also keeps its console output.
    """
    handler = _RotatingLog(path, redirect_std=_same_file(2, path))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if not handler.redirect_std:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(console)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logging.getLogger(name).propagate = True
    return handler


# ---------------------------------------------------------------------------------------------
# the simulator kernel


def warm_up_simulator() -> None:
    """Run the numba kernel once on a tiny pool, with the argument types the metrics engine
    uses, so it is compiled (or loaded from numba's cache) before any request needs it."""
    from compute_widgets import sim

    sim.warm_up()


# ---------------------------------------------------------------------------------------------
# all of it for one app


@dataclass
class Serving:
    """What the app and the server share: the loop monitor, the connection table (None when
    the app runs under another server, e.g. a test client), the warm-up state."""

    simulate: bool = False  # the app has a metrics engine: warm the kernel at start
    monitor: LoopMonitor = field(default_factory=LoopMonitor)
    gc_watch: GcWatch = field(default_factory=GcWatch)
    connections: ConnectionTable | None = None
    warm: threading.Event = field(default_factory=threading.Event)
    warm_s: float | None = None
    warm_error: str = ""
    owns_process: bool = False

    def start(self) -> None:
        """At app start-up, on the running loop, before the first connection."""
        # the garbage collector is the process's: tune it only when the server is the process
        # (`compute-widgets serve`), not when it is a thread of a kernel or a test
        self.owns_process = threading.current_thread() is threading.main_thread()
        if self.owns_process:
            freeze_heap()
        self.gc_watch.start(freeze=self.owns_process)
        self.monitor.start()
        asyncio.get_running_loop().set_exception_handler(QuietLoopErrors(self.connections))
        if self.simulate:
            threading.Thread(target=self._warm, name="compute-widgets-warm-up", daemon=True).start()
        else:
            self.warm.set()

    def stop(self) -> None:
        self.monitor.stop()
        self.gc_watch.stop()

    def _warm(self) -> None:
        lower_priority()
        t0 = time.perf_counter()
        try:
            warm_up_simulator()
        except Exception as e:  # the first request compiles instead (in the threadpool)
            self.warm_error = f"{type(e).__name__}: {e}"
            log.warning("simulator warm-up failed: %s", self.warm_error)
        self.warm_s = time.perf_counter() - t0
        if self.owns_process:
            freeze_heap(collect=False)  # numba's objects too
        self.warm.set()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loop": self.monitor.read(),
            "gc": self.gc_watch.read(),
            "simulator": {
                "warm": self.warm.is_set() and not self.warm_error,
                "warm_up_s": None if self.warm_s is None else round(self.warm_s, 3),
            },
        }
        if self.warm_error:
            out["simulator"]["error"] = self.warm_error
        if self.connections is not None:
            out["connections"] = self.connections.stats()
        return out


def freeze_heap(collect: bool = True) -> None:
    """Move the objects alive now (modules, numba, pandas: ~150,000) out of the garbage
    collector's reach: a full collection scanned them all, stalling the loop ~270 ms. No
    collection first once serving (`collect=False`): that would be the same stall."""
    if collect:
        gc.collect()
    gc.freeze()


def lower_priority() -> None:
    """Give this thread a lower CPU priority than the event loop's (Linux: nice is per thread),
    so on a busy machine the loop is scheduled first. Once per thread."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_niced = threading.local()


def make_server(app: Any) -> Any:
    """uvicorn serving `app` (which has ``app.state.serving``) with the limits above."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets=sockets)
            for sock in sockets or ():  # asyncio set listen(accept_burst): widen it again
                with contextlib.suppress(OSError):
                    sock.listen(LISTEN_BACKLOG)

    limits = Limits.for_this_process()
    table = ConnectionTable(limits)
    serving = getattr(app.state, "serving", None)
    if serving is not None:
        serving.connections = table
    config = uvicorn.Config(
        app,
        http=GuardedH11Protocol,
        log_config=None,  # configure_server_log (or the embedding process) decides
        log_level="info",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        backlog=limits.accept_burst,
    )
    config.connection_table = table  # type: ignore[attr-defined]  # read by GuardedH11Protocol
    return Server(config)
