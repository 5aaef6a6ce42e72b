"""The official `clarifai` CLI (the PyPI package, a test dependency) against a fresh local plane.

Each command runs the venv's real ``clarifai`` executable as a subprocess, pointed at the plane's
gRPC door by nothing but ``CLARIFAI_API_BASE``/``CLARIFAI_PAT``/``CLARIFAI_USER_ID`` (or a
context), with HOME in a temporary directory so the user's own ``~/.config/clarifai`` is never
read or written. Each test asserts what the CLI printed (ids, columns, the simulator's replicas,
the simulator's events) against what the plane holds, read back with our own REST client.

``compute-widgets env`` is tested here too: the lines it prints (no token in them), the context it
writes, and that both really drive the CLI. One plane per module; the CLI starts in ~1-2 s, so
each call is made once and its output checked for everything it shows.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from compute_widgets.local import runtime

BIN = Path(sys.executable).parent
CLARIFAI = BIN / "clarifai"
CONFIGS = Path(__file__).parent / "data" / "sdk-configs"
CALL_TIMEOUT = 180  # bounds a wait only; no assertion on time

# the SDK's example configs (tests/data/sdk-configs), as the CLI is used with them
CC_ID, NP_ID, DP_ID = "test-aws-cluster", "test-nodepool-6", "ci_test_deployment"


@pytest.fixture
def home(tmp_path):
    """A HOME of the test's own: the CLI reads and writes $HOME/.config/clarifai/config."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARIFAI_")}
    env.update(HOME=str(home), NO_COLOR="1", TERM="dumb", COLUMNS="200")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def plane_env(module_server, home: Path) -> dict[str, str]:
    """What `eval "$(compute-widgets env)"` sets, taken from the handle."""
    env = _base_env(home)
    env.update(CLARIFAI_API_BASE=module_server.grpc_url, CLARIFAI_PAT=module_server.token, CLARIFAI_USER_ID="me")
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None, ok: bool = True):
    assert CLARIFAI.exists(), f"{CLARIFAI} is missing: pip install -e '.[test]' installs clarifai"
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=CALL_TIMEOUT)
    if ok:
        assert p.returncode == 0, f"{argv[:3]} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p


def clarifai(*args: str, env: dict[str, str], cwd: Path | None = None, ok: bool = True):
    return run([str(CLARIFAI), *args], env, cwd, ok)


def compute_widgets(*args: str, env: dict[str, str], ok: bool = True):
    return run([sys.executable, "-m", "compute_widgets.local", *args], env, ok=ok)


def plain_table(text: str, first: str = "ID") -> list[dict[str, str]]:
    """Rows of the CLI's ``display_co_resources`` table (tabulate "plain": columns are
    separated by two or more spaces, no cell holds two spaces in a row here)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), f"row {line!r} does not fit {header}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def simple_table(text: str) -> list[dict[str, str]]:
    """Rows of a tabulate "simple" table: the dashes under the header give the columns."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans = [m.span() for m in re.finditer(r"-+", lines[i])]
    cut = lambda line: [line[a:b].strip() for a, b in spans]  # noqa: E731
    header = cut(lines[i - 1].ljust(len(lines[i])))
    rows = []
    for line in lines[i + 1 :]:
        if not line.strip() or line.startswith("Example:"):
            break
        rows.append(dict(zip(header, cut(line.ljust(len(lines[i]))), strict=True)))
    return rows


def _replicas(module_server, dp_id: str) -> tuple[int, int]:
    """(live, desired) replicas of a deployment by our REST door (its deployment_metrics)."""
    metrics = raw_get(module_server, f"/v2/users/me/deployments/{dp_id}")["deployment"]
    metrics = metrics["deployment_metrics"]
    return metrics.get("live_replicas", 0), metrics.get("desired_replicas", 0)


def raw_get(module_server, path: str) -> dict:
    """A v2 answer of our REST door as JSON (fields our models do not keep, e.g. metrics)."""
    r = httpx.get(f"{module_server.url}{path}", headers={"Authorization": f"Key {module_server.token}"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------
# compute-widgets env


def test_env_prints_lines_for_the_grpc_door_without_the_token(module_server, home):
    env = _base_env(home)
    out = compute_widgets("env", "--data-dir", str(module_server.data_dir), env=env).stdout
    token_path = Path(module_server.data_dir) / runtime.TOKEN_FILE
    assert out.splitlines()[:4] == [
        f"export CLARIFAI_API_BASE={module_server.grpc_url}",
        f'export CLARIFAI_PAT="$(cat {token_path})"',
        "export CLARIFAI_USER_ID=me",
        "# To undo: unset CLARIFAI_API_BASE CLARIFAI_PAT CLARIFAI_USER_ID",
    ]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", module_server.grpc_url)  # no slash, no path
    assert module_server.grpc_url != module_server.url  # the gRPC door, not the REST one
    assert module_server.token not in out
    for shell, first in (("fish", "set -gx"), ("powershell", "$Env:")):
        other = compute_widgets("env", "--shell", shell, "--data-dir", str(module_server.data_dir), env=env)
        assert other.stdout.startswith(f"{first}") and module_server.token not in other.stdout
        assert module_server.grpc_url in other.stdout and str(token_path) in other.stdout


def test_env_eval_drives_the_cli_and_unset_undoes_it(module_server, home):
    """`eval "$(compute-widgets env)"` in a shell: the CLI reaches the plane; the undo line
    leaves the shell as it was."""
    script = (
        f'eval "$(compute-widgets env --data-dir {module_server.data_dir})" && '
        "clarifai computecluster list && "
        "unset CLARIFAI_API_BASE CLARIFAI_PAT CLARIFAI_USER_ID && "
        'echo && echo "left:${CLARIFAI_API_BASE-}${CLARIFAI_PAT-}${CLARIFAI_USER_ID-}"'
    )
    p = run(["bash", "-c", script], _base_env(home))
    rows = plain_table(p.stdout)
    # the shared Serverless cluster every user sees, and the CLI's USER_ID column
    assert {
        "ID": "shared-saas",
        "USER_ID": "clarifai",
        "DESCRIPTION": "Shared SaaS (Serverless)",
    } in rows
    assert p.stdout.rstrip().endswith("left:")
    assert module_server.token not in p.stdout + p.stderr


def test_env_without_a_plane_says_how_to_start_one(tmp_path, home):
    empty = tmp_path / "no-plane"
    p = compute_widgets("env", "--data-dir", str(empty), env=_base_env(home), ok=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1, p.stderr  # one line, no traceback
    assert "no control plane runs for" in p.stderr and "compute-widgets serve" in p.stderr
    assert runtime.find_server(empty) is None  # nothing started behind the user's back


def test_env_start_starts_a_plane_and_says_so(tmp_path, home):
    data = tmp_path / "started"
    p = compute_widgets("env", "--start", "--data-dir", str(data), env=_base_env(home))
    handle = runtime.find_server(data)
    try:
        assert handle is not None and handle.grpc_url
        assert p.stderr == (
            f"compute-widgets: started a control plane at {handle.url} (pid {handle.pid}) for "
            f"{data.resolve()}; it runs until `compute-widgets stop`\n"
        )
        assert p.stdout.splitlines()[0] == f"export CLARIFAI_API_BASE={handle.grpc_url}"
    finally:
        if handle is not None:
            runtime.stop_server(handle)


def test_env_names_a_plane_without_a_grpc_door():
    from compute_widgets.local.clarifai_env import grpc_base

    old = runtime.ServerHandle(url="http://127.0.0.1:1", token="t", pid=42, data_dir=Path("/x"))
    with pytest.raises(runtime.ServerError) as e:
        grpc_base(old)
    assert str(e.value) == (
        "the control plane at http://127.0.0.1:1 (pid 42) has no gRPC door (it was started by "
        "an older compute_widgets); restart it: compute-widgets stop && compute-widgets serve"
    )


def test_env_context_writes_the_cli_config_and_the_cli_uses_it(module_server, home):
    config = home / ".config" / "clarifai" / "config"
    config.parent.mkdir(parents=True)
    other = {"CLARIFAI_API_BASE": "https://api.clarifai.com", "CLARIFAI_PAT": "ENVVAR"}
    config.write_text(
        yaml.safe_dump(
            {
                "current_context": "prod",
                "contexts": {"prod": {**other, "CLARIFAI_USER_ID": "alice"}},
            }
        )
    )
    env = _base_env(home)
    p = compute_widgets("env", "--context", "--data-dir", str(module_server.data_dir), env=env)
    assert p.stdout.strip() == (
        f"compute-widgets: wrote context 'local' ({module_server.grpc_url}, user me) to {config} and "
        "made it current; back with `clarifai config use-context prod`"
    )
    assert module_server.token not in p.stdout + p.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = yaml.safe_load(config.read_text())
    assert saved["current_context"] == "local"
    assert saved["contexts"]["prod"]["CLARIFAI_USER_ID"] == "alice"  # kept
    local = saved["contexts"]["local"]
    assert local["CLARIFAI_API_BASE"] == module_server.grpc_url and local["CLARIFAI_PAT"] == module_server.token

    # the CLI lists both contexts (-o json leaves the PAT out), and uses `local` with no env var
    listed = clarifai("config", "get-contexts", "-o", "json", env=env).stdout
    names = {c["name"]: c["env"] for c in yaml.safe_load(listed)}
    assert names["local"]["CLARIFAI_API_BASE"] == module_server.grpc_url
    assert (
        names["local"]["CLARIFAI_USER_ID"] == "me" and names["prod"]["CLARIFAI_USER_ID"] == "alice"
    )
    rows = plain_table(clarifai("computecluster", "list", env=env).stdout)
    assert "shared-saas" in [r["ID"] for r in rows]

    # variables set in the shell beat every context: the command says so (naming no value)
    shadowed = dict(env, CLARIFAI_PAT="something-else")
    p = compute_widgets("env", "--context", "--data-dir", str(module_server.data_dir), env=shadowed)
    assert p.stderr == (
        "compute-widgets: note: CLARIFAI_PAT set in this environment override every context; "
        "unset CLARIFAI_PAT for 'local' to take effect\n"
    )


def test_env_context_refuses_a_broken_config_and_leaves_it(module_server, home):
    config = home / "broken.yaml"
    config.write_text("contexts: [not, a, mapping]\n")
    p = compute_widgets(
        "env",
        "--context",
        "--config",
        str(config),
        "--data-dir",
        str(module_server.data_dir),
        env=_base_env(home),
        ok=False,
    )
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert str(config) in p.stderr and "contexts" in p.stderr
    assert config.read_text() == "contexts: [not, a, mapping]\n"


# ---------------------------------------------------------------------------------------------
# login


def test_login_verifies_the_token_and_saves_a_context(module_server, home, module_client):
    env = _base_env(home)  # no CLARIFAI_* variable: the CLI learns everything from login
    p = clarifai("login", module_server.grpc_url, "--pat", module_server.token, "--context", "offline", env=env)
    me = raw_get(module_server, "/v2/users/me")["user"]["id"]  # GetUser over REST: the same answer
    assert f"Logged in as {me} ({module_server.grpc_url})" in p.stdout
    assert "Created context offline and set as active." in p.stdout
    assert module_server.token not in p.stdout + p.stderr
    # the saved context works on its own
    rows = plain_table(clarifai("computecluster", "list", env=env).stdout)
    assert "shared-saas" in [r["ID"] for r in rows]
    # a wrong token is refused by GetUser: login fails and saves nothing
    bad = clarifai(
        "login", module_server.grpc_url, "--pat", "not-the-token", "--context", "bad", env=env, ok=False
    )
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    saved = yaml.safe_load((home / ".config" / "clarifai" / "config").read_text())
    assert "bad" not in saved["contexts"] and saved["current_context"] == "offline"


# ---------------------------------------------------------------------------------------------
# computecluster / nodepool / deployment / list-instances, in the order a user goes


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The SDK's example configs, copied where the CLI may read (and, for a nodepool config
    without compute_cluster, rewrite) them."""
    d = tmp_path_factory.mktemp("cli-configs")
    for f in CONFIGS.glob("*.yaml"):
        shutil.copy(f, d / f.name)
    return d


def test_cli_lifecycle_against_the_plane(module_server, module_client, work, tmp_path):
    (tmp_path / "home").mkdir()
    env = plane_env(module_server, tmp_path / "home")
    cc_yaml = yaml.safe_load((work / "example_compute_cluster_config.yaml").read_text())
    np_yaml = yaml.safe_load((work / "example_nodepool_config.yaml").read_text())
    dp_yaml = yaml.safe_load((work / "example_deployment_config.yaml").read_text())

    # computecluster create / list
    p = clarifai(
        "computecluster",
        "create",
        CC_ID,
        "--config",
        "example_compute_cluster_config.yaml",
        env=env,
        cwd=work,
    )
    assert f"Compute Cluster with ID '{CC_ID}' is created" in p.stderr + p.stdout
    assert "code: SUCCESS" in p.stderr + p.stdout
    cc = module_client.get_cluster(CC_ID)
    assert (cc.region, cc.cloud_provider.id) == ("us-east-1", "aws")
    rows = plain_table(clarifai("cc", "ls", env=env).stdout)
    assert {
        "ID": CC_ID,
        "USER_ID": "me",
        "DESCRIPTION": cc_yaml["compute_cluster"]["description"],
    } in rows
    assert sorted(r["ID"] for r in rows) == sorted(c.id for c in module_client.list_clusters())

    # nodepool create / list
    p = clarifai(
        "nodepool",
        "create",
        CC_ID,
        NP_ID,
        "--config",
        "example_nodepool_config.yaml",
        env=env,
        cwd=work,
    )
    assert f"Nodepool with ID '{NP_ID}' is created" in p.stderr + p.stdout
    np = module_client.get_nodepool(CC_ID, NP_ID)
    assert [t.id for t in np.instance_types] == ["g5.xlarge"]
    assert (np.min_instances, np.max_instances) == (0, 1)
    rows = plain_table(clarifai("np", "ls", CC_ID, env=env).stdout)
    assert rows == [
        {
            "ID": NP_ID,
            "USER_ID": "me",
            "COMPUTE_CLUSTER_ID": CC_ID,
            "DESCRIPTION": np_yaml["nodepool"]["description"],
        }
    ]

    # deployment create / list
    p = clarifai(
        "deployment",
        "create",
        NP_ID,
        DP_ID,
        "--config",
        "example_deployment_config.yaml",
        env=env,
        cwd=work,
    )
    assert f"Deployment with ID '{DP_ID}' is created" in p.stderr + p.stdout
    model = dp_yaml["deployment"]["worker"]["model"]
    rows = plain_table(clarifai("dp", "ls", NP_ID, env=env).stdout)
    assert rows == [
        {
            "ID": DP_ID,
            "MODEL_ID": model["id"],
            "MODEL_VERSION": model["model_version"]["id"][:12],
            "NODEPOOL_ID": NP_ID,
            "COMPUTE_CLUSTER": CC_ID,
        }
    ]

    # the simulated cloud runs an hour: the deployment has replicas
    module_client.advance_clock(3600)

    # deployment get: the simulator's live/desired replicas, as our REST door reports them just
    # before and after (the plane's clock runs on: a minute may turn in between)
    before = _replicas(module_server, DP_ID)
    out = clarifai("deployment", "get", DP_ID, env=env).stdout
    after = _replicas(module_server, DP_ID)
    shown = re.search(r"Replicas \(live/desired\):\s+(\d+)/(\d+)", out)
    assert shown, out
    assert (int(shown[1]), int(shown[2])) in {before, after}
    assert max(before[1], after[1]) >= 1  # an hour of the simulator's traffic wants a replica
    ref = f"{model['user_id']}/{model['app_id']}/models/{model['id']}"
    assert re.search(rf"Model:\s+{re.escape(ref)}\n", out), out
    assert re.search(rf"Nodepool:\s+{NP_ID}\n", out) and re.search(
        rf"Compute cluster:\s+{CC_ID}\n", out
    )
    assert re.search(r"Autoscale range:\s+0 - 1\n", out)

    # list-instances: our catalog's types, with their specs
    out = clarifai("list-instances", "--cloud", "aws", "--region", "us-east-1", env=env).stdout
    rows = {r["--instance value"]: r for r in simple_table(out)}
    ours = module_client.list_instance_types("aws", "us-east-1")
    assert sorted(rows) == sorted(t.id for t in ours)
    for t in ours:
        r, ci = rows[t.id], t.compute_info
        assert (r["Cloud"], r["Region"], int(r["GPUs"])) == (
            "aws",
            "us-east-1",
            ci.num_accelerators,
        )
        assert (r["CPU"], r["CPU Memory"]) == (ci.cpu_limit, ci.cpu_memory)

    # deployment / nodepool / computecluster delete, each checked on the plane
    out = clarifai("deployment", "delete", DP_ID, env=env).stdout
    assert f"Deployment '{DP_ID}' deleted." in out
    assert DP_ID not in [d.id for d in module_client.list_deployments()]
    clarifai("nodepool", "delete", CC_ID, NP_ID, env=env)
    assert NP_ID not in [n.id for n in module_client.list_nodepools(CC_ID)]
    clarifai("computecluster", "delete", CC_ID, env=env)
    assert CC_ID not in [c.id for c in module_client.list_clusters()]


def test_cli_get_of_a_missing_deployment_is_one_clear_error(module_server, tmp_path):
    (tmp_path / "home").mkdir()
    p = clarifai(
        "deployment", "get", "no-such-deployment", env=plane_env(module_server, tmp_path / "home"), ok=False
    )
    assert p.returncode == 1
    assert "Deployment 'no-such-deployment' not found." in p.stderr
    assert "Traceback" not in p.stderr


# ---------------------------------------------------------------------------------------------
# deployment logs: the simulator's events


def raw_post(module_server, path: str, body: dict) -> dict:
    r = httpx.post(
        f"{module_server.url}{path}", json=body, headers={"Authorization": f"Key {module_server.token}"}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()


def _pool_with_deployment(
    module_server, suffix: str, model_user: str, version: str
) -> tuple[str, str, str]:
    """A cluster, nodepool and deployment from the SDK's example configs (ids suffixed, the
    worker's model owner and version given), created over REST: only `logs` runs the CLI."""
    load = lambda name: yaml.safe_load((CONFIGS / name).read_text())  # noqa: E731
    cc = load("example_compute_cluster_config.yaml")["compute_cluster"]
    np = load("example_nodepool_config.yaml")["nodepool"]
    dp = load("example_deployment_config.yaml")["deployment"]
    cc_id, np_id, dp_id = f"logs-cc-{suffix}", f"logs-np-{suffix}", f"logs-dp-{suffix}"
    raw_post(module_server, "/v2/users/me/compute_clusters", {"compute_clusters": [{**cc, "id": cc_id}]})
    np.update(id=np_id, compute_cluster={"id": cc_id})
    raw_post(module_server, f"/v2/users/me/compute_clusters/{cc_id}/nodepools", {"nodepools": [np]})
    dp.update(id=dp_id, nodepools=[{"id": np_id, "compute_cluster": {"id": cc_id}}])
    dp["worker"]["model"].update(user_id=model_user, model_version={"id": version})
    raw_post(module_server, "/v2/users/me/deployments", {"deployments": [dp]})
    return cc_id, np_id, dp_id


def _expected_log_lines(module_client, cc_id: str, np_id: str) -> list[str]:
    """What `clarifai deployment logs --no-follow` prints of the pool's events: the first page
    of 50 it asks for, oldest first, one line per event. Read through our client (the
    cluster-level binding, whose entries keep the event's fields in ``meta``); over the
    runner's binding the gRPC door puts the event's time in front of its message
    (ComputeSourceMetadata has no field for it)."""
    events = module_client.list_log_entries(cc_id, np_id, "runner.events", page=1, per_page=50)
    assert events, "an hour of simulated cloud left no event"
    return [f"{e.meta['timestamp']} {e.message}" for e in events]


def _logs(module_server, home: Path, dp_id: str, *options: str) -> list[str]:
    home.mkdir(exist_ok=True)
    env = plane_env(module_server, home)
    p = clarifai("deployment", "logs", dp_id, "--no-follow", *options, env=env)
    return p.stdout.splitlines()


def test_cli_deployment_logs_print_the_simulators_events(module_server, module_client, tmp_path):
    """The command as typed, default log type (``model``: the runner's own output, which for a
    simulated runner is its nodepool's events)."""
    cc_id, np_id, dp_id = _pool_with_deployment(module_server, "own", "me", "ownversion1")
    module_client.advance_clock(3600)
    before = _expected_log_lines(module_client, cc_id, np_id)
    lines = _logs(module_server, tmp_path / "home", dp_id)
    after = _expected_log_lines(module_client, cc_id, np_id)  # the clock runs on: an event may come
    assert lines[0] == f"Streaming logs for model 'hello-world' (runner: {dp_id}-{np_id})..."
    assert [line for line in lines[2:] if line] in (before, after)


def test_cli_deployment_logs_of_the_sdk_examples_deployment(module_server, module_client, tmp_path):
    """The SDK's example deploys a model owned by another user (python-grpc-tester): the CLI
    then asks ListRunners and ListLogEntries with that user in user_app_id
    (clarifai/cli/deployment.py: ``user_id = w.model.user_id or user_id``)."""
    cc_id, np_id, dp_id = _pool_with_deployment(
        module_server, "sdk", "python-grpc-tester", "cf5a37cc5ea7444bbcc2b8fcf9d8e23d"
    )
    module_client.advance_clock(3600)
    before = _expected_log_lines(module_client, cc_id, np_id)
    lines = _logs(module_server, tmp_path / "home", dp_id, "--log-type", "events")
    after = _expected_log_lines(module_client, cc_id, np_id)  # the clock runs on: an event may come
    assert lines[0] == f"Streaming logs for model 'hello-world' (runner: {dp_id}-{np_id})..."
    assert [line for line in lines[2:] if line] in (before, after)


# ---------------------------------------------------------------------------------------------
# our own client in a shell that ran `eval "$(compute-widgets env)"`


def test_connect_after_env_eval_goes_to_the_rest_door(module_server, module_client, home):
    """`compute-widgets env` exports the gRPC door for the official tools; a Python (or a
    Jupyter) started from that shell must still reach the plane with `cw.connect()`, which
    speaks REST: it recognises the gRPC door of the running plane and uses its REST url."""
    script = (
        f'eval "$(compute-widgets env --data-dir {module_server.data_dir})" && '
        f"COMPUTE_WIDGETS_DATA_DIR={module_server.data_dir} python -c '"
        "import compute_widgets as cw; c = cw.connect(); "
        "print(c.base_url, c.is_local, sorted(x.id for x in c.list_clusters()))'"
    )
    p = run(["bash", "-c", script], _base_env(home))
    ids = sorted(c.id for c in module_client.list_clusters())
    assert p.stdout.strip() == f"{module_server.url} True {ids}", p.stderr[-2000:]
