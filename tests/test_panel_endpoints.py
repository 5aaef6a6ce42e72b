"""The Compute panel's Jupyter endpoints (compute_widgets.lab.handlers) in a real Jupyter server,
against the real control plane it starts and a second real plane reached through a CLI context.

What a user of the panel checks: which backends it offers (never a PAT), which clusters and
nodepools it shows with which node counts, split and $/h, and that Jupyter's auth guards it all.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient

# pytest-jupyter's fixtures for this module only (never as a plugin: see test_jupyter_extension)
from pytest_jupyter.jupyter_server import *  # noqa: F403

from compute_widgets.api import ComputeClient
from compute_widgets.api.models import ComputeCluster, Nodepool
from compute_widgets.local import runtime

PAT = "pat-secret-4f1d9c0b7e"  # a context's PAT: must never reach the browser


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME of our own: the Clarifai CLI's config file lives below it."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".config" / "clarifai").mkdir(parents=True)
    return tmp_path / "home"


def write_config(home, text: str) -> None:
    (home / ".config" / "clarifai" / "config").write_text(text)


@pytest.fixture
def cp_data_dir(tmp_path, monkeypatch):
    path = tmp_path / "cp"
    monkeypatch.setenv(runtime.DATA_DIR_ENV, str(path))
    return path


@pytest.fixture
def other_plane(tmp_path):
    """A second real control plane (its own data dir), reached through a CLI context."""
    handle = runtime.start_server(tmp_path / "other", port=0)
    yield handle
    runtime.stop_server(handle)


@pytest.fixture
def jp_server_config(cp_data_dir, home):
    return {
        "ServerApp": {
            "jpserver_extensions": {"compute_widgets": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def run(jp_asyncio_loop):
    """Run a coroutine on the Jupyter server's own loop (see test_jupyter_extension.run)."""
    asyncio.set_event_loop(jp_asyncio_loop)
    return jp_asyncio_loop.run_until_complete


def get(run, jp_fetch, path: str, **params: str) -> tuple[int, dict, str]:
    try:
        r = run(jp_fetch("compute-widgets", "api", path, params=params))
    except tornado.httpclient.HTTPClientError as e:
        r = e.response
    text = r.body.decode()
    return r.code, json.loads(text), text


def plane_client(cp_data_dir) -> ComputeClient:
    handle = runtime.ensure_server(cp_data_dir)
    return ComputeClient(handle.url, handle.token, "me")


def seed(c: ComputeClient) -> None:
    """Two clusters: a spot-with-fallback GPU pool and an on-demand CPU pool with a floor."""
    c.create_cluster(
        ComputeCluster.model_validate(
            {"id": "gpu", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
        )
    )
    c.create_cluster(
        ComputeCluster.model_validate(
            {"id": "cpu", "cloud_provider": {"id": "gcp"}, "region": "us-east4"}
        )
    )
    c.create_nodepool(
        "gpu",
        Nodepool.model_validate(
            {
                "id": "a10g",
                "instance_types": [{"id": "g5.xlarge"}],
                "node_capacity_type": {"capacity_types": [2, 1]},
                "min_instances": 2,
                "max_instances": 2,
            }
        ),
    )
    c.create_nodepool(
        "cpu",
        Nodepool.model_validate(
            {
                "id": "general",
                "instance_types": [{"id": "n2-standard-4"}],
                "node_capacity_type": {"capacity_types": [1]},
                "min_instances": 1,
                "max_instances": 3,
            }
        ),
    )
    # fmt: skip


def test_contexts_lists_local_and_the_cli_contexts_without_a_pat(run, jp_fetch, home, monkeypatch):
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    write_config(
        home,
        f"""\
contexts:
  prod:
    CLARIFAI_API_BASE: https://api.example.com
    CLARIFAI_PAT: {PAT}
    CLARIFAI_USER_ID: alice
  ci:
    CLARIFAI_PAT: ENVVAR
    CLARIFAI_USER_ID: bot
current_context: prod
""",
    )
    code, body, text = get(run, jp_fetch, "contexts")
    assert code == 200
    assert [b["name"] for b in body["backends"]] == ["local", "prod", "ci"]
    assert body["current"] == "prod" and body["warning"] is None
    prod = body["backends"][1]
    assert (prod["user_id"], prod["api_base"], prod["usable"]) == (
        "alice", "https://api.example.com", True)  # fmt: skip
    assert prod["connect"] == "cw.connect(context='prod')"
    assert body["backends"][0]["connect"] == "cw.connect(local=True)"
    ci = body["backends"][2]
    assert ci["usable"] is False and "CLARIFAI_PAT is not set" in ci["problem"]
    assert PAT not in text and PAT[:10] not in text


def test_a_malformed_config_is_one_warning_and_local_still_works(run, jp_fetch, home):
    write_config(home, "contexts: [this is: not a mapping\n")
    code, body, _ = get(run, jp_fetch, "contexts")
    assert code == 200
    assert [b["name"] for b in body["backends"]] == ["local"] and body["current"] == "local"
    assert "config" in body["warning"] and "\n" not in body["warning"]


def test_clusters_of_the_local_plane_with_status_split_and_cost(run, jp_fetch, cp_data_dir):
    with plane_client(cp_data_dir) as c:
        seed(c)
        c.advance_clock(3600)  # an hour later both floors are up
        truth = {(n.compute_cluster_id, n.id): n for n in c.list_nodepools()}
        price = {t.id: t.price_per_hour for t in c.list_instance_types("aws", "us-east-1")}
        price |= {t.id: t.price_per_hour for t in c.list_instance_types("gcp", "us-east4")}

    code, body, text = get(run, jp_fetch, "clusters", backend="local")
    assert code == 200, body
    # the plane lists Clarifai's shared cluster to every user, as the real API does
    assert [cl["id"] for cl in body["clusters"]] == ["cpu", "gpu", "shared-saas"], body
    cpu, gpu, shared = body["clusters"]
    assert shared["nodepools"] == [] and shared["cost_per_hour"] == 0
    assert (cpu["provider_label"], cpu["region"]) == ("Google Cloud", "us-east4")
    general, a10g = cpu["nodepools"][0], gpu["nodepools"][0]

    assert general["node_count"] == truth[("cpu", "general")].node_count == 1
    assert general["nodes"] == {"spot": 0, "on_demand": 1}
    assert general["status"] == "ready" and general["capacity"] == "on-demand"
    assert general["price_per_hour"] == price["n2-standard-4"]
    assert general["cost_per_hour"] == pytest.approx(price["n2-standard-4"] * 1)

    # spot with on-demand fallback: split by the metrics, and it adds up to the node count
    assert a10g["node_count"] == truth[("gpu", "a10g")].node_count == 2
    assert a10g["capacity"] == "spot, on-demand fallback"
    assert a10g["nodes"]["spot"] + a10g["nodes"]["on_demand"] == 2
    assert a10g["cost_per_hour"] == pytest.approx(price["g5.xlarge"] * 2)
    assert gpu["cost_per_hour"] == pytest.approx(price["g5.xlarge"] * 2)
    assert body["totals"] == {
        "clusters": 3, "nodepools": 2, "node_count": 3,
        "cost_per_hour": pytest.approx(price["g5.xlarge"] * 2 + price["n2-standard-4"]),
    }  # fmt: skip
    assert runtime.find_server(cp_data_dir).token not in text

    # live: the panel's next refresh sees the plane move on
    with plane_client(cp_data_dir) as c:
        pool = c.get_nodepool("cpu", "general")
        c.patch_nodepool("cpu", pool.model_copy(update={"min_instances": 3, "max_instances": 3}))
        c.advance_clock(3600)
    _, body, _ = get(run, jp_fetch, "clusters", backend="local")
    assert body["clusters"][0]["nodepools"][0]["node_count"] == 3


def test_clusters_through_a_cli_context(run, jp_fetch, home, other_plane):
    """A context whose base is another server (here a second real plane, its token as the PAT):
    the endpoint lists that server's clusters, and the PAT stays in the Jupyter server."""
    with ComputeClient(other_plane.url, other_plane.token, "me") as c:
        c.create_cluster(ComputeCluster.model_validate(
            {"id": "elsewhere", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}))  # fmt: skip
    write_config(
        home,
        f"""\
contexts:
  other:
    CLARIFAI_API_BASE: {other_plane.url}
    CLARIFAI_PAT: {other_plane.token}
    CLARIFAI_USER_ID: me
current_context: other
""",
    )
    code, body, text = get(run, jp_fetch, "clusters", backend="other")
    assert code == 200, body
    assert [cl["id"] for cl in body["clusters"]] == ["elsewhere", "shared-saas"]
    assert body["clusters"][0]["nodepools"] == []
    assert other_plane.token not in text


def test_an_unknown_backend_is_one_line_naming_the_known_ones(run, jp_fetch, home):
    write_config(home, "contexts:\n  prod:\n    CLARIFAI_PAT: x1234567\ncurrent_context: prod\n")
    code, body, _ = get(run, jp_fetch, "clusters", backend="nope")
    assert code == 400
    assert "'nope'" in body["error"] and "prod" in body["error"] and "\n" not in body["error"]


def test_a_backend_that_cannot_be_reached_is_a_502_line(run, jp_fetch, home):
    write_config(
        home,
        f"""\
contexts:
  down:
    CLARIFAI_API_BASE: http://127.0.0.1:9
    CLARIFAI_PAT: {PAT}
current_context: down
""",
    )
    code, body, text = get(run, jp_fetch, "clusters", backend="down")
    assert code == 502
    assert body["error"].startswith("down: ") and "\n" not in body["error"]
    assert PAT not in text


def test_a_refresh_gives_the_cycle_collector_back_answered_or_failed(run, jp_fetch, home):
    """The endpoint pauses Python's cycle collector while it builds an answer (handlers.py): the
    Jupyter server (this process) has it back after an answer and after each kind of failure."""
    import gc

    write_config(home, "contexts:\n  down:\n    CLARIFAI_API_BASE: http://127.0.0.1:9\n"
                       f"    CLARIFAI_PAT: {PAT}\n")  # fmt: skip
    assert gc.isenabled()
    for backend, code in (("local", 200), ("nope", 400), ("down", 502)):
        assert get(run, jp_fetch, "clusters", backend=backend)[0] == code
        assert gc.isenabled(), backend
    gc.disable()  # someone else's choice stays theirs
    try:
        assert get(run, jp_fetch, "clusters", backend="local")[0] == 200
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("path", ["contexts", "clusters"])
def test_the_endpoints_need_jupyter_auth(run, jp_fetch, path):
    assert run(jp_fetch("compute-widgets", "api", path)).code == 200  # Jupyter's token: fine
    for headers in ({"Authorization": "token wrong"}, {"Authorization": ""}):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            run(jp_fetch("compute-widgets", "api", path, headers=headers))
        assert info.value.code == 403
        assert b"clusters" not in (info.value.response.body or b"")


def test_a_kept_split_lasts_while_the_node_count_holds_and_not_longer():
    """The panel repeats its refresh every 3 s: a spot pool's split (one metrics query per
    cluster, as dear as the listing) is reused while its count holds, for SPLIT_MAX_AGE at most."""
    from types import SimpleNamespace

    from compute_widgets.lab.overview import SPLIT_MAX_AGE, SplitCache

    now = [100.0]
    cache = SplitCache(clock=lambda: now[0])
    pool = SimpleNamespace(id="a10g", node_count=2)
    assert cache.get("gpu", pool) is SplitCache.MISS
    cache.put("gpu", pool, {"spot": 1, "on_demand": 1})
    now[0] += SPLIT_MAX_AGE
    assert cache.get("gpu", pool) == {"spot": 1, "on_demand": 1}
    assert cache.get("gpu", SimpleNamespace(id="a10g", node_count=3)) is SplitCache.MISS
    assert cache.get("cpu", pool) is SplitCache.MISS  # another cluster's pool of that name
    now[0] += 1
    assert cache.get("gpu", pool) is SplitCache.MISS


def test_the_panel_is_installed_and_enabled_by_pip_alone():
    """The README's install (pip, no node) puts the built panel where JupyterLab looks:
    `jupyter labextension list` shows it enabled and OK, and the file it loads is there."""
    import json
    import re
    import subprocess
    import sys
    from pathlib import Path

    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # drop the colours
    line = next((x for x in listing.splitlines() if x.strip().startswith("compute-widgets ")), "")
    assert "enabled" in line and "OK" in line, listing
    installed = Path(sys.prefix, "share", "jupyter", "labextensions", "compute-widgets")
    meta = json.loads((installed / "package.json").read_text())
    assert (installed / meta["jupyterlab"]["_build"]["load"]).is_file()


def test_the_lab_extra_asks_the_jupyterlab_the_panel_is_built_against():
    """The shipped build's shared modules require the JupyterLab it was built with (^that
    version, labextension/jupyterlab-version): `pip install '.[lab]'` must not allow an older one."""
    import re
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    built = (repo / "labextension" / "jupyterlab-version").read_text().strip()
    lab = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    asked = [d for d in lab["lab"] if re.match(r"jupyterlab\b", d)]
    assert asked == [f"jupyterlab>={built}"]
    remote = next((repo / "compute_widgets" / "labextension" / "static").glob("remoteEntry.*.js"))
    wanted = re.escape("[1," + built.replace(".", ",") + "]")  # webpack's "^4.6.6"
    assert re.search(rf'"@jupyterlab/application",[^,]*,{wanted}', remote.read_text())
