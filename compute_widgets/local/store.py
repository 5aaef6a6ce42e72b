"""SQLite persistence of the local control plane (stdlib sqlite3, WAL).

Resources are stored as Clarifai wire JSON (snake_case, int enums, zero values omitted) in a
``data`` column, next to the indexed columns the queries need (owner, parents, ids, times). A
request's writes run in one transaction (`Store.transaction`), so a batch is all-or-nothing.

Durability: WAL with ``synchronous=NORMAL``: a committed transaction survives the death of the
process (SIGKILL included); only a power loss may drop the last few commits.

Threads: each thread gets its own connection; write transactions additionally hold one
process-wide lock, so threads queue on it instead of spinning on SQLite's busy handler
(``busy_timeout`` still guards against another process on the same file).

Two API levels:

- wire level (``*_wire``, ``insert_*``, ``replace_*``, ``delete_*``): dicts in, dicts out; what
  the HTTP app uses on its hot paths.
- model level: `get_nodepool`, `list_all_nodepools`, `nodepool_revisions`,
  `deployments_for_nodepool` (for the metrics engine) and `create_cluster`, `create_nodepool`,
  `update_nodepool`, `create_deployment` (for seeding; ``now=`` backdates a resource, e.g. a
  week of demo history). The model-level writers do not check the catalog: the caller passes
  valid resources.

Invariants the store keeps whoever writes: ``user_id``/parents/timestamps filled in,
``enforced_min_instances``/``enforced_max_instances`` = requested capped by `PLAN_MAX_NODES`,
output-only fields (``status``, ``node_count``) not stored in ``data``, a nodepool revision per
settings change, one deployment per model per nodepool (unique index), and cascading deletes
(a nodepool takes its user runners along: ``runners`` holds what PostRunners created; the
runners of deployments are derived, never stored).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compute_widgets.api.models import ComputeCluster, Deployment, Nodepool

PLAN_MAX_NODES = 100  # enforced_max_instances never exceeds this (a plan limit of the local server)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clusters(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, id TEXT NOT NULL,
    created_at REAL NOT NULL, modified_at REAL NOT NULL,
    data TEXT NOT NULL,
    UNIQUE(user_id, id));
CREATE TABLE IF NOT EXISTS nodepools(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, cluster_id TEXT NOT NULL, id TEXT NOT NULL,
    created_at REAL NOT NULL, modified_at REAL NOT NULL,
    status INTEGER NOT NULL DEFAULT 0, status_description TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    UNIQUE(user_id, cluster_id, id));
CREATE INDEX IF NOT EXISTS nodepools_by_user ON nodepools(user_id, seq);
CREATE TABLE IF NOT EXISTS nodepool_revisions(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, cluster_id TEXT NOT NULL, nodepool_id TEXT NOT NULL,
    effective_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS revisions_by_nodepool
    ON nodepool_revisions(user_id, cluster_id, nodepool_id, effective_at, seq);
CREATE TABLE IF NOT EXISTS deployments(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, id TEXT NOT NULL,
    created_at REAL NOT NULL, modified_at REAL NOT NULL,
    model_version_id TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    UNIQUE(user_id, id));
CREATE TABLE IF NOT EXISTS deployment_nodepools(
    user_id TEXT NOT NULL, deployment_id TEXT NOT NULL,
    cluster_id TEXT NOT NULL, nodepool_id TEXT NOT NULL,
    model_key TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(user_id, deployment_id, cluster_id, nodepool_id));
CREATE INDEX IF NOT EXISTS deployment_nodepools_by_nodepool
    ON deployment_nodepools(user_id, cluster_id, nodepool_id);
CREATE UNIQUE INDEX IF NOT EXISTS one_deployment_per_model_per_nodepool
    ON deployment_nodepools(user_id, cluster_id, nodepool_id, model_key) WHERE model_key != '';
CREATE TABLE IF NOT EXISTS runners(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, cluster_id TEXT NOT NULL, nodepool_id TEXT NOT NULL, id TEXT NOT NULL,
    created_at REAL NOT NULL, modified_at REAL NOT NULL,
    data TEXT NOT NULL,
    UNIQUE(user_id, id));
"""

# Nodepool fields whose change is a new revision for the metrics engine.
_SETTINGS = (
    "instance_types",
    "node_capacity_type",
    "min_instances",
    "max_instances",
    "enforced_min_instances",
    "enforced_max_instances",
    "warm_instances",
)
_OUTPUT_ONLY = ("status", "status_description", "node_count", "created_at", "modified_at")


class StoreDamaged(Exception):
    """The SQLite file failed its integrity check when opened (the message says what to do)."""


def _check_integrity(path: Path) -> None:
    """`PRAGMA quick_check` before anything is written: a damaged store is named, never served
    (it would answer some reads with 500s and take writes into the damaged file)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as e:  # not a database at all, or its header is damaged
        rows = [str(e)]
    finally:
        conn.close()
    if rows == ["ok"]:
        return
    problem = " ".join("; ".join(rows).split())[:160]
    raise StoreDamaged(
        f"the store {path} is damaged ({problem}); nothing was changed. Keep it as a backup, "
        f"then recover what it holds (`sqlite3 {path} .recover | sqlite3 recovered.sqlite3`) "
        f"or move it away (`mv {path} {path}.damaged`) to start empty, or use another --data-dir"
    )


class DuplicateId(Exception):
    """An id that already exists (message names it). The app answers DATABASE_DUPLICATE_KEY."""


class ModelConflict(Exception):
    """A second deployment of the same model on one nodepool. `existing` names the first."""

    def __init__(self, message: str, existing: str = "") -> None:
        super().__init__(message)
        self.existing = existing


@dataclass
class Cascade:
    """What a cascading delete removed (for the response description)."""

    clusters: list[str] = field(default_factory=list)
    nodepools: list[tuple[str, str]] = field(default_factory=list)  # (cluster id, nodepool id)
    deployments: list[str] = field(default_factory=list)  # deleted: no nodepool left
    runners: list[str] = field(default_factory=list)  # user runners of deleted nodepools
    detached: dict[str, list[str]] = field(default_factory=dict)  # deployment -> nodepools removed


# ------------------------------------------------------------------------------------------------
# time and JSON helpers


def rfc3339(dt: datetime) -> str:
    """'2026-11-28T01:02:03.123456Z' (UTC, microseconds), the wire form of a Timestamp."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_epoch(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def model_key(deployment: dict[str, Any]) -> str:
    """What "the same model" means for one-deployment-per-model-per-nodepool: owner/app/model
    (any version), or the workflow; '' when the deployment names neither."""
    worker = deployment.get("worker") or {}
    m = worker.get("model")
    if isinstance(m, dict) and m.get("id"):
        return f"model:{m.get('user_id', '')}/{m.get('app_id', '')}/{m['id']}"
    w = worker.get("workflow")
    if isinstance(w, dict) and w.get("id"):
        return f"workflow:{w.get('user_id', '')}/{w.get('app_id', '')}/{w['id']}"
    return ""


def model_version_id(deployment: dict[str, Any]) -> str:
    m = (deployment.get("worker") or {}).get("model") or {}
    return ((m.get("model_version") or {}).get("id") or "") if isinstance(m, dict) else ""


def deployment_nodepool_refs(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """(cluster id, nodepool id) of every nodepool the deployment names, in order, no repeats."""
    refs: list[tuple[str, str]] = []
    for key in ("deployment_nodepools", "nodepools"):
        for item in deployment.get(key) or []:
            if not isinstance(item, dict):
                continue
            ref = (str((item.get("compute_cluster") or {}).get("id", "")), str(item.get("id", "")))
            if ref not in refs:
                refs.append(ref)
    return refs


def _ref_matches(item: Any, cluster_id: str, nodepool_id: str) -> bool:
    return (
        isinstance(item, dict)
        and item.get("id") == nodepool_id
        and (item.get("compute_cluster") or {}).get("id") == cluster_id
    )


def enforce_limits(nodepool: dict[str, Any]) -> None:
    """enforced_max = max_instances capped by the plan; enforced_min = min capped by that."""
    mx = min(int(nodepool.get("max_instances") or 0), PLAN_MAX_NODES)
    mn = min(int(nodepool.get("min_instances") or 0), mx)
    for key, value in (("enforced_min_instances", mn), ("enforced_max_instances", mx)):
        if value:
            nodepool[key] = value
        else:
            nodepool.pop(key, None)


def _settings(nodepool: dict[str, Any]) -> str:
    sub = {k: nodepool.get(k) for k in _SETTINGS}
    sub["instance_types"] = [t.get("id") for t in nodepool.get("instance_types") or []]
    return json.dumps(sub, sort_keys=True)


# ------------------------------------------------------------------------------------------------


class Store:
    """The control plane's database. ``Store(path)`` creates the file and schema if needed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        _check_integrity(self.path)
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        for suffix in (
            "",
            "-wal",
            "-shm",
        ):  # cluster keys live here: owner-only, whatever the umask
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        with self.transaction():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)",
                (repr(datetime.now(UTC).timestamp()),),
            )
        self._offset = float(self._meta("clock_offset") or 0.0)
        self.created_at = from_epoch(float(self._meta("created_at") or 0.0))

    # -- connections and transactions ----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the store is closed")
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            self._local.depth = 0
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception).
        Re-entrant: an inner ``transaction()`` joins the outer one."""
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield conn
            except BaseException:
                self._local.depth = 0
                conn.execute("ROLLBACK")
                raise
            self._local.depth = 0
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection (call when no request is running any more)."""
        self._closed = True
        with self._conns_lock:
            for c in self._conns:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        return self._conn().execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self._conn().execute(sql, args).fetchall()

    def _meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    # -- clock ---------------------------------------------------------------------------------

    def get_clock_offset(self) -> float:
        return self._offset

    def set_clock_offset(self, seconds: float) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO meta(key, value) VALUES ('clock_offset', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (repr(float(seconds)),),
            )
        self._offset = float(seconds)

    def now(self) -> datetime:
        """Wall clock plus the persisted clock offset (the default ``now`` of writes)."""
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def _ts(self, now: datetime | None) -> tuple[float, str]:
        dt = now or self.now()
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp(), rfc3339(dt)

    # -- clusters ------------------------------------------------------------------------------

    def cluster_wire(self, user_id: str, cluster_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM clusters WHERE user_id=? AND id=?", (user_id, cluster_id))
        return json.loads(row[0]) if row else None

    def clusters_wire(self, user_id: str, offset: int = 0, limit: int = -1) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT data FROM clusters WHERE user_id=? ORDER BY seq LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [json.loads(r[0]) for r in rows]

    def insert_cluster(
        self, user_id: str, cluster: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        ts, stamp = self._ts(now)
        data = {k: v for k, v in cluster.items() if k not in _OUTPUT_ONLY and k != "key"}
        data["user_id"] = user_id
        data["created_at"] = data["modified_at"] = stamp
        try:
            with self.transaction() as c:
                c.execute(
                    "INSERT INTO clusters(user_id, id, created_at, modified_at, data) "
                    "VALUES (?,?,?,?,?)",
                    (user_id, data["id"], ts, ts, _dumps(data)),
                )
        except sqlite3.IntegrityError:
            raise DuplicateId(f"Compute cluster '{data['id']}' already exists.") from None
        return data

    def replace_cluster(
        self, user_id: str, cluster: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        """Store `cluster` as the new settings of an existing cluster (keeps id, owner,
        created_at). Returns the stored dict."""
        ts, stamp = self._ts(now)
        with self.transaction() as c:
            old = self.cluster_wire(user_id, cluster["id"])
            if old is None:
                raise KeyError(cluster["id"])
            data = {k: v for k, v in cluster.items() if k not in _OUTPUT_ONLY and k != "key"}
            data["user_id"] = user_id
            data["created_at"] = old["created_at"]
            data["modified_at"] = stamp
            c.execute(
                "UPDATE clusters SET data=?, modified_at=? WHERE user_id=? AND id=?",
                (_dumps(data), ts, user_id, data["id"]),
            )
        return data

    def delete_cluster(self, user_id: str, cluster_id: str, now: datetime | None = None) -> Cascade:
        """Delete the cluster, its nodepools and what that does to deployments (see
        `delete_nodepool`). Raises KeyError when it does not exist."""
        out = Cascade()
        with self.transaction() as c:
            if self.cluster_wire(user_id, cluster_id) is None:
                raise KeyError(cluster_id)
            for (np_id,) in self._all(
                "SELECT id FROM nodepools WHERE user_id=? AND cluster_id=? ORDER BY seq",
                (user_id, cluster_id),
            ):
                self._delete_nodepool(user_id, cluster_id, np_id, out, now)
            c.execute("DELETE FROM clusters WHERE user_id=? AND id=?", (user_id, cluster_id))
            out.clusters.append(cluster_id)
        return out

    # -- nodepools -----------------------------------------------------------------------------

    @staticmethod
    def _np_row(row: Any) -> dict[str, Any]:
        data = json.loads(row[0])
        if row[1]:
            data["status"] = row[1]
        if row[2]:
            data["status_description"] = row[2]
        return data

    _NP_COLS = "data, status, status_description"

    def nodepool_wire(
        self, user_id: str, cluster_id: str, nodepool_id: str
    ) -> dict[str, Any] | None:
        """The stored nodepool; ``status`` present only when set by PostNodepoolStatus."""
        row = self._one(
            f"SELECT {self._NP_COLS} FROM nodepools WHERE user_id=? AND cluster_id=? AND id=?",
            (user_id, cluster_id, nodepool_id),
        )
        return self._np_row(row) if row else None

    def nodepools_wire(
        self, user_id: str, cluster_id: str | None = None, offset: int = 0, limit: int = -1
    ) -> list[dict[str, Any]]:
        """Nodepools of one cluster, or of every cluster of the user (`cluster_id` None)."""
        if cluster_id is None:
            rows = self._all(
                f"SELECT {self._NP_COLS} FROM nodepools WHERE user_id=? ORDER BY seq LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            )
        else:
            rows = self._all(
                f"SELECT {self._NP_COLS} FROM nodepools WHERE user_id=? AND cluster_id=? "
                "ORDER BY seq LIMIT ? OFFSET ?",
                (user_id, cluster_id, limit, offset),
            )
        return [self._np_row(r) for r in rows]

    def count_nodepools(self, user_id: str, cluster_id: str) -> int:
        return self._one(
            "SELECT count(*) FROM nodepools WHERE user_id=? AND cluster_id=?", (user_id, cluster_id)
        )[0]

    def _nodepool_data(
        self, user_id: str, cluster_id: str, nodepool: dict[str, Any]
    ) -> dict[str, Any]:
        data = {k: v for k, v in nodepool.items() if k not in _OUTPUT_ONLY}
        cluster = self.cluster_wire(user_id, cluster_id) or {}
        parent: dict[str, Any] = {"id": cluster_id, "user_id": user_id}
        for key in ("cloud_provider", "region"):
            if cluster.get(key):
                parent[key] = cluster[key]
        data["compute_cluster"] = parent
        enforce_limits(data)
        return data

    def insert_nodepool(
        self, user_id: str, cluster_id: str, nodepool: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        ts, stamp = self._ts(now)
        with self.transaction() as c:
            data = self._nodepool_data(user_id, cluster_id, nodepool)
            data["created_at"] = data["modified_at"] = stamp
            try:
                c.execute(
                    "INSERT INTO nodepools(user_id, cluster_id, id, created_at, modified_at, data) "
                    "VALUES (?,?,?,?,?,?)",
                    (user_id, cluster_id, data["id"], ts, ts, _dumps(data)),
                )
            except sqlite3.IntegrityError:
                raise DuplicateId(
                    f"Nodepool '{data['id']}' already exists in compute cluster '{cluster_id}'."
                ) from None
            self._revision(user_id, cluster_id, data, ts)
        return data

    def replace_nodepool(
        self, user_id: str, cluster_id: str, nodepool: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        """New settings for an existing nodepool (keeps id, parents, created_at, status); a
        revision is recorded when a setting the simulation depends on changed."""
        ts, stamp = self._ts(now)
        with self.transaction() as c:
            old = self.nodepool_wire(user_id, cluster_id, nodepool["id"])
            if old is None:
                raise KeyError(nodepool["id"])
            data = self._nodepool_data(user_id, cluster_id, nodepool)
            data["created_at"] = old["created_at"]
            data["modified_at"] = stamp
            c.execute(
                "UPDATE nodepools SET data=?, modified_at=? WHERE user_id=? AND cluster_id=? AND id=?",
                (_dumps(data), ts, user_id, cluster_id, data["id"]),
            )
            if _settings(old) != _settings(data):
                self._revision(user_id, cluster_id, data, ts)
        return data

    def _revision(self, user_id: str, cluster_id: str, data: dict[str, Any], ts: float) -> None:
        self._conn().execute(
            "INSERT INTO nodepool_revisions(user_id, cluster_id, nodepool_id, effective_at, data) "
            "VALUES (?,?,?,?,?)",
            (user_id, cluster_id, data["id"], ts, _dumps(data)),
        )

    def set_nodepool_status(
        self,
        user_id: str,
        cluster_id: str,
        nodepool_id: str,
        status: int,
        description: str = "",
        now: datetime | None = None,
    ) -> None:
        """Pin the nodepool's status (0 = unpin: status computed again). KeyError if missing."""
        ts, _ = self._ts(now)
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE nodepools SET status=?, status_description=?, modified_at=? "
                "WHERE user_id=? AND cluster_id=? AND id=?",
                (int(status), description if status else "", ts, user_id, cluster_id, nodepool_id),
            )
            if cur.rowcount == 0:
                raise KeyError(nodepool_id)

    def delete_nodepool(
        self, user_id: str, cluster_id: str, nodepool_id: str, now: datetime | None = None
    ) -> Cascade:
        """Delete a nodepool and its revisions. A deployment that used it loses that nodepool;
        a deployment left with no nodepool is deleted (it cannot run anywhere). KeyError if
        the nodepool does not exist."""
        out = Cascade()
        with self.transaction():
            if self.nodepool_wire(user_id, cluster_id, nodepool_id) is None:
                raise KeyError(nodepool_id)
            self._delete_nodepool(user_id, cluster_id, nodepool_id, out, now)
        return out

    def _delete_nodepool(
        self, user_id: str, cluster_id: str, nodepool_id: str, out: Cascade, now: datetime | None
    ) -> None:
        c = self._conn()
        for (dep_id,) in self._all(
            "SELECT deployment_id FROM deployment_nodepools "
            "WHERE user_id=? AND cluster_id=? AND nodepool_id=? ORDER BY deployment_id",
            (user_id, cluster_id, nodepool_id),
        ):
            dep = self.deployment_wire(user_id, dep_id)
            if dep is None:
                continue
            for key in ("deployment_nodepools", "nodepools"):
                if key in dep:
                    dep[key] = [x for x in dep[key] if not _ref_matches(x, cluster_id, nodepool_id)]
            if deployment_nodepool_refs(dep):
                out.detached.setdefault(dep_id, []).append(nodepool_id)
                self._write_deployment(user_id, dep, now, update=True)
            else:
                out.detached.pop(dep_id, None)
                self._delete_deployment(user_id, dep_id)
                out.deployments.append(dep_id)
        c.execute(
            "DELETE FROM nodepools WHERE user_id=? AND cluster_id=? AND id=?",
            (user_id, cluster_id, nodepool_id),
        )
        c.execute(
            "DELETE FROM nodepool_revisions WHERE user_id=? AND cluster_id=? AND nodepool_id=?",
            (user_id, cluster_id, nodepool_id),
        )
        out.runners += [r["id"] for r in self.runners_wire(user_id, cluster_id, nodepool_id)]
        c.execute(
            "DELETE FROM runners WHERE user_id=? AND cluster_id=? AND nodepool_id=?",
            (user_id, cluster_id, nodepool_id),
        )
        out.nodepools.append((cluster_id, nodepool_id))

    # -- user runners (PostRunners; deployments' runners are derived, never stored) -----------

    def runner_wire(self, user_id: str, runner_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM runners WHERE user_id=? AND id=?", (user_id, runner_id))
        return json.loads(row[0]) if row else None

    def runners_wire(
        self, user_id: str, cluster_id: str | None = None, nodepool_id: str | None = None
    ) -> list[dict[str, Any]]:
        """User runners, oldest first, of one nodepool / cluster or all (None = any)."""
        where, args = ["user_id=?"], [user_id]
        if cluster_id:
            where.append("cluster_id=?")
            args.append(cluster_id)
        if nodepool_id:
            where.append("nodepool_id=?")
            args.append(nodepool_id)
        rows = self._all(
            f"SELECT data FROM runners WHERE {' AND '.join(where)} ORDER BY seq", tuple(args)
        )
        return [json.loads(r[0]) for r in rows]

    def write_runner(
        self,
        user_id: str,
        cluster_id: str,
        nodepool_id: str,
        runner: dict[str, Any],
        now: datetime | None = None,
        *,
        update: bool = False,
    ) -> dict[str, Any]:
        """Insert (DuplicateId when the id is taken) or replace a user runner."""
        ts, stamp = self._ts(now)
        data = {k: v for k, v in runner.items() if k not in ("created_at", "modified_at")}
        with self.transaction() as c:
            if update:
                old = self.runner_wire(user_id, data["id"])
                if old is None:
                    raise KeyError(data["id"])
                data["created_at"], data["modified_at"] = old["created_at"], stamp
                c.execute(
                    "UPDATE runners SET data=?, modified_at=? WHERE user_id=? AND id=?",
                    (_dumps(data), ts, user_id, data["id"]),
                )
                return data
            data["created_at"] = data["modified_at"] = stamp
            try:
                c.execute(
                    "INSERT INTO runners(user_id, cluster_id, nodepool_id, id, created_at, "
                    "modified_at, data) VALUES (?,?,?,?,?,?,?)",
                    (user_id, cluster_id, nodepool_id, data["id"], ts, ts, _dumps(data)),
                )
            except sqlite3.IntegrityError:
                raise DuplicateId(f"Runner '{data['id']}' already exists.") from None
        return data

    def delete_runner(self, user_id: str, runner_id: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM runners WHERE user_id=? AND id=?", (user_id, runner_id))

    # -- deployments ---------------------------------------------------------------------------

    def deployment_wire(self, user_id: str, deployment_id: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT data FROM deployments WHERE user_id=? AND id=?", (user_id, deployment_id)
        )
        return json.loads(row[0]) if row else None

    def deployments_wire(
        self,
        user_id: str,
        offset: int = 0,
        limit: int = -1,
        *,
        nodepool_id: str | None = None,
        compute_cluster_id: str | None = None,
        model_version_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Deployments of the user, oldest first; filters are ANDed (ListDeployments)."""
        where = ["d.user_id=?"]
        args: list[Any] = [user_id]
        if nodepool_id or compute_cluster_id:
            sub = ["n.user_id=d.user_id", "n.deployment_id=d.id"]
            if nodepool_id:
                sub.append("n.nodepool_id=?")
                args.append(nodepool_id)
            if compute_cluster_id:
                sub.append("n.cluster_id=?")
                args.append(compute_cluster_id)
            where.append(f"EXISTS (SELECT 1 FROM deployment_nodepools n WHERE {' AND '.join(sub)})")
        if model_version_ids:
            where.append(f"d.model_version_id IN ({','.join('?' * len(model_version_ids))})")
            args.extend(model_version_ids)
        rows = self._all(
            f"SELECT d.data FROM deployments d WHERE {' AND '.join(where)} "
            "ORDER BY d.seq LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [json.loads(r[0]) for r in rows]

    def deployment_ids_for_nodepool(
        self, user_id: str, cluster_id: str, nodepool_id: str
    ) -> list[str]:
        return [
            r[0]
            for r in self._all(
                "SELECT deployment_id FROM deployment_nodepools "
                "WHERE user_id=? AND cluster_id=? AND nodepool_id=? ORDER BY deployment_id",
                (user_id, cluster_id, nodepool_id),
            )
        ]

    def deployment_for_model(
        self, user_id: str, cluster_id: str, nodepool_id: str, key: str, exclude: str = ""
    ) -> str | None:
        """Id of a deployment (other than `exclude`) of model `key` on that nodepool."""
        if not key:
            return None
        row = self._one(
            "SELECT deployment_id FROM deployment_nodepools WHERE user_id=? AND cluster_id=? "
            "AND nodepool_id=? AND model_key=? AND deployment_id!=?",
            (user_id, cluster_id, nodepool_id, key, exclude),
        )
        return row[0] if row else None

    def insert_deployment(
        self, user_id: str, deployment: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        return self._write_deployment(user_id, deployment, now, update=False)

    def replace_deployment(
        self, user_id: str, deployment: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        return self._write_deployment(user_id, deployment, now, update=True)

    def _write_deployment(
        self, user_id: str, deployment: dict[str, Any], now: datetime | None, *, update: bool
    ) -> dict[str, Any]:
        ts, stamp = self._ts(now)
        data = {k: v for k, v in deployment.items() if k not in ("created_at", "modified_at")}
        data["user_id"] = user_id
        for key in ("nodepools", "deployment_nodepools"):
            for item in data.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("compute_cluster"), dict):
                    item["compute_cluster"].setdefault("user_id", user_id)
        dep_id = data["id"]
        key = model_key(data)
        with self.transaction() as c:
            if update:
                old = self.deployment_wire(user_id, dep_id)
                if old is None:
                    raise KeyError(dep_id)
                data["created_at"] = old["created_at"]
                data["modified_at"] = stamp
                c.execute(
                    "UPDATE deployments SET data=?, modified_at=?, model_version_id=? "
                    "WHERE user_id=? AND id=?",
                    (_dumps(data), ts, model_version_id(data), user_id, dep_id),
                )
                c.execute(
                    "DELETE FROM deployment_nodepools WHERE user_id=? AND deployment_id=?",
                    (user_id, dep_id),
                )
            else:
                data["created_at"] = data["modified_at"] = stamp
                try:
                    c.execute(
                        "INSERT INTO deployments(user_id, id, created_at, modified_at, "
                        "model_version_id, data) VALUES (?,?,?,?,?,?)",
                        (user_id, dep_id, ts, ts, model_version_id(data), _dumps(data)),
                    )
                except sqlite3.IntegrityError:
                    raise DuplicateId(f"Deployment '{dep_id}' already exists.") from None
            for cc, np in deployment_nodepool_refs(data):
                other = self.deployment_for_model(user_id, cc, np, key, exclude=dep_id)
                if other:
                    raise ModelConflict(
                        f"Nodepool '{np}' in compute cluster '{cc}' already has deployment "
                        f"'{other}' of the same model; one deployment per model per nodepool.",
                        other,
                    )
                c.execute(
                    "INSERT OR IGNORE INTO deployment_nodepools(user_id, deployment_id, cluster_id, "
                    "nodepool_id, model_key) VALUES (?,?,?,?,?)",
                    (user_id, dep_id, cc, np, key),
                )
        return data

    def delete_deployment(self, user_id: str, deployment_id: str) -> None:
        """KeyError when it does not exist."""
        with self.transaction():
            if self.deployment_wire(user_id, deployment_id) is None:
                raise KeyError(deployment_id)
            self._delete_deployment(user_id, deployment_id)

    def _delete_deployment(self, user_id: str, deployment_id: str) -> None:
        c = self._conn()
        c.execute("DELETE FROM deployments WHERE user_id=? AND id=?", (user_id, deployment_id))
        c.execute(
            "DELETE FROM deployment_nodepools WHERE user_id=? AND deployment_id=?",
            (user_id, deployment_id),
        )

    def users(self) -> list[str]:
        """Every user id that owns something."""
        return [
            r[0]
            for r in self._all(
                "SELECT user_id FROM clusters UNION SELECT user_id FROM deployments ORDER BY 1"
            )
        ]

    # -- model level (metrics engine, seeding) ---------------------------------------------------

    def get_nodepool(self, user_id: str, cc_id: str, np_id: str) -> Nodepool | None:
        from compute_widgets.api.models import Nodepool

        data = self.nodepool_wire(user_id, cc_id, np_id)
        return Nodepool.from_wire(data) if data is not None else None

    def list_all_nodepools(self) -> list[tuple[str, Nodepool]]:
        """(owner user id, nodepool) of every nodepool, oldest first."""
        from compute_widgets.api.models import Nodepool

        rows = self._all(f"SELECT user_id, {self._NP_COLS} FROM nodepools ORDER BY seq")
        return [(r[0], Nodepool.from_wire(self._np_row(r[1:]))) for r in rows]

    def nodepool_keys(self, user_id: str) -> list[tuple[str, str]]:
        """(cluster id, nodepool id) of the user's nodepools, oldest first, without parsing
        them: a metrics query filters on these alone (parsing every pool made each query of
        one pool cost O(pools))."""
        rows = self._all(
            "SELECT cluster_id, id FROM nodepools WHERE user_id=? ORDER BY seq", (user_id,)
        )
        return [(r[0], r[1]) for r in rows]

    def nodepool_revisions(
        self, user_id: str, cc_id: str, np_id: str
    ) -> list[tuple[datetime, Nodepool]]:
        """Every settings change of the nodepool with its effective time, oldest first; the
        create is the first. [] when the nodepool does not exist."""
        from compute_widgets.api.models import Nodepool

        rows = self._all(
            "SELECT effective_at, data FROM nodepool_revisions WHERE user_id=? AND cluster_id=? "
            "AND nodepool_id=? ORDER BY effective_at, seq",
            (user_id, cc_id, np_id),
        )
        return [(from_epoch(r[0]), Nodepool.from_wire(json.loads(r[1]))) for r in rows]

    def deployments_for_nodepool(self, user_id: str, cc_id: str, np_id: str) -> list[Deployment]:
        from compute_widgets.api.models import Deployment

        return [
            Deployment.from_wire(d)
            for d in self.deployments_wire(user_id, nodepool_id=np_id, compute_cluster_id=cc_id)
        ]

    def create_cluster(
        self, user_id: str, cluster: ComputeCluster | dict[str, Any], now: datetime | None = None
    ) -> ComputeCluster:
        from compute_widgets.api.models import ComputeCluster

        return ComputeCluster.from_wire(self.insert_cluster(user_id, _wire(cluster), now))

    def create_nodepool(
        self,
        user_id: str,
        cc_id: str,
        nodepool: Nodepool | dict[str, Any],
        now: datetime | None = None,
    ) -> Nodepool:
        from compute_widgets.api.models import Nodepool

        if self.cluster_wire(user_id, cc_id) is None:
            raise KeyError(cc_id)
        return Nodepool.from_wire(self.insert_nodepool(user_id, cc_id, _wire(nodepool), now))

    def update_nodepool(
        self,
        user_id: str,
        cc_id: str,
        nodepool: Nodepool | dict[str, Any],
        now: datetime | None = None,
    ) -> Nodepool:
        """Overwrite the nodepool's settings effective at `now` (a new revision)."""
        from compute_widgets.api.models import Nodepool

        return Nodepool.from_wire(self.replace_nodepool(user_id, cc_id, _wire(nodepool), now))

    def create_deployment(
        self, user_id: str, deployment: Deployment | dict[str, Any], now: datetime | None = None
    ) -> Deployment:
        from compute_widgets.api.models import Deployment

        return Deployment.from_wire(self.insert_deployment(user_id, _wire(deployment), now))

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"


def _wire(obj: Any) -> dict[str, Any]:
    return dict(obj) if isinstance(obj, dict) else obj.to_wire()
