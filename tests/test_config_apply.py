"""api.config.plan_config / apply_config: a Python user plans and applies a multi-document
config against the real local control plane, without IPython (the `%%compute` magic is a thin
caller of these, tested in test_magics.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from compute_widgets.api.config import (
    ApplyError,
    ConfigError,
    Plan,
    apply_config,
    plan_config,
)

# Deliberately out of dependency order: the deployment comes first in the text.
STACK = """\
deployment:
  id: {dep}
  worker:
    model: {{id: m1, user_id: u1, app_id: a1}}
  scheduling_choice: 4
  autoscale_config: {{min_replicas: 0, max_replicas: 2}}
---
nodepool:
  id: {np}
  instance_types:
    - id: g5.xlarge
  node_capacity_type: {{capacity_types: [2, 1]}}
  min_instances: 0
  max_instances: {max}
---
compute_cluster:
  id: {cc}
  cloud_provider: {{id: aws}}
  region: us-east-1
  managed_by: clarifai
  cluster_type: dedicated
"""


@pytest.fixture
def ids(client, uid):
    made = {"cc": uid("cc"), "np": uid("np"), "dep": uid("dep")}
    yield made
    for delete in (
        lambda: client.delete_deployments([made["dep"]]),
        lambda: client.delete_nodepools(made["cc"], [made["np"]]),
        lambda: client.delete_clusters([made["cc"]]),
    ):
        try:
            delete()
        except Exception:
            pass


def test_plan_then_apply_then_update(client, ids):
    text = STACK.format(max=3, **ids)
    plan = plan_config(client, text)
    assert [(i.kind, i.action) for i in plan.items] == [
        ("compute_cluster", "create"),
        ("nodepool", "create"),
        ("deployment", "create"),
    ]
    assert [i.position for i in plan.items] == [3, 2, 1]  # where each sits in the text
    assert plan.problems == [] and plan.summary() == "3 to create, 0 to update, 0 unchanged"
    assert plan.items[1].cluster == ids["cc"]  # the text's only cluster
    assert ids["cc"] not in {c.id for c in client.list_clusters()}  # planning writes nothing

    html = plan._repr_html_()
    assert "3 to create" in html and ids["np"] in html
    assert f"create: nodepool {ids['np']!r} in {ids['cc']}" in repr(plan)

    applied = apply_config(client, plan)
    assert [(a.kind, a.id, a.action) for a in applied] == [
        ("compute_cluster", ids["cc"], "created"),
        ("nodepool", ids["np"], "created"),
        ("deployment", ids["dep"], "created"),
    ]
    pool = client.get_nodepool(ids["cc"], ids["np"])
    assert pool.max_instances == 3 and pool.spot
    dep = client.get_deployment(ids["dep"])
    assert [(r.id, r.compute_cluster.id) for r in dep.nodepools] == [(ids["np"], ids["cc"])]

    same = plan_config(client, text)
    assert same.summary() == "0 to create, 0 to update, 3 unchanged", repr(same)

    bigger = plan_config(client, STACK.format(max=6, **ids))
    assert [(i.kind, i.changes) for i in bigger.updates] == [("nodepool", ["max_instances"])]
    assert "update max_instances" in repr(bigger)
    applied = apply_config(client, STACK.format(max=6, **ids))  # text: planned, then applied
    assert [a.action for a in applied] == ["updated"] * 3
    assert client.get_nodepool(ids["cc"], ids["np"]).max_instances == 6


def test_problems_are_listed_and_nothing_is_written(client, ids):
    bad = STACK.format(max=3, **ids).replace("min_instances: 0", "min_instances: 5")
    plan = plan_config(client, bad)
    assert len(plan.problems) == 1
    assert plan.problems[0].startswith(f"document 2 (nodepool {ids['np']!r} in {ids['cc']}): ")
    assert "min_instances" in plan.problems[0]
    with pytest.raises(ConfigError) as err:
        apply_config(client, bad)
    assert err.value.file == "<config>" and err.value.line == 8  # the `nodepool:` line
    assert err.value.problems[0].message == plan.problems[0]
    assert ids["cc"] not in {c.id for c in client.list_clusters()}  # not even the valid cluster


def test_create_only_refuses_what_exists(client, ids):
    apply_config(client, STACK.format(max=3, **ids))
    plan = plan_config(client, STACK.format(max=3, **ids), update=False)
    assert len(plan.problems) == 3
    assert all("already exists: use `plan_config(..., update=True)`" in p for p in plan.problems)
    moved = STACK.format(max=3, **ids).replace("us-east-1", "us-west-2")
    (problem,) = plan_config(client, moved).problems
    assert "cloud_provider/region cannot change (aws/us-east-1 -> aws/us-west-2)" in problem


def test_nodepool_cluster_comes_from_the_call(client, ids, uid):
    client_text = STACK.format(max=3, **ids).split("---\n")[1]  # the nodepool alone
    (problem,) = plan_config(client, client_text).problems
    assert "which cluster?" in problem and "cluster='CC'" in problem
    (problem,) = plan_config(client, client_text, cluster="no-such-cc").problems
    assert problem.endswith("cluster 'no-such-cc' does not exist; add a compute_cluster: document")
    apply_config(client, STACK.format(max=3, **ids).split("---\n")[2])  # the cluster alone
    plan = plan_config(client, client_text, default_cluster=ids["cc"])
    assert plan.problems == [] and plan.items[0].cluster == ids["cc"]


def test_a_write_failing_half_way_says_what_was_done(client, ids):
    from compute_widgets.api.errors import ApiError
    from compute_widgets.api.models import Nodepool

    text = STACK.format(max=3, **ids)
    apply_config(client, text.split("---\n")[2])  # the cluster exists before the plan
    plan = plan_config(client, text)
    assert [i.action for i in plan.items] == ["update", "create", "create"]
    # Between plan and apply, someone else creates the nodepool: our create now fails (409).
    client.create_nodepool(ids["cc"], Nodepool.from_wire(plan.items[1].model.to_wire()))
    steps: list[str] = []
    with pytest.raises(ApplyError) as err:
        apply_config(client, plan, on_step=steps.append)
    exc = err.value
    assert steps == [
        f"updating compute cluster {ids['cc']!r}",
        f"creating nodepool {ids['np']!r} in {ids['cc']}",
    ]
    assert [(a.kind, a.action) for a in exc.done] == [("compute_cluster", "updated")]
    assert exc.item.kind == "nodepool" and isinstance(exc.cause, ApiError)
    assert exc.cause.http_status == 409 and exc.line == 8
    assert str(exc).startswith(f"nodepool {ids['np']!r} in {ids['cc']} failed: ")
    done = f"(done before it: updated compute cluster {ids['cc']!r}; nothing was rolled back: "
    assert done + "fix the config and apply it again)" in str(exc)
    with pytest.raises(ApiError) as missing:
        client.get_deployment(ids["dep"])
    assert missing.value.http_status == 404  # the deployment was never written


def test_a_plan_is_returned_as_is():
    plan = Plan(items=[], update=True)
    assert plan_config(None, plan) is plan


def test_empty_text_is_a_config_error(client):
    with pytest.raises(ConfigError) as err:
        plan_config(client, "\n---\n")
    assert str(err.value).startswith("the config holds no document: write Clarifai CLI YAML")


def test_python_users_need_no_ipython(server, tmp_path):
    """Plan and apply in a fresh interpreter: IPython never loads."""
    code = textwrap.dedent(
        """
        import json, os, sys
        from compute_widgets.api.client import ComputeClient
        from compute_widgets.api.config import apply_config, plan_config
        text = open(sys.argv[1]).read()
        with ComputeClient(os.environ["CW_URL"], os.environ["CW_TOKEN"], user_id="me") as c:
            plan = plan_config(c, sys.argv[1])
            applied = apply_config(c, plan)
            pool = c.get_nodepool("cc-noipy", "np-noipy")
            c.delete_clusters(["cc-noipy"])
        print(json.dumps({"summary": plan.summary(), "file": plan.file,
                          "applied": [a.action for a in applied], "max": pool.max_instances,
                          "ipython": "IPython" in sys.modules}))
        """
    )
    path = tmp_path / "stack.yaml"
    path.write_text(
        STACK.format(max=4, cc="cc-noipy", np="np-noipy", dep="dep-noipy").split("---\n", 1)[1]
    )
    env = {**os.environ, "CW_URL": server.url, "CW_TOKEN": server.token}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {
        "summary": "2 to create, 0 to update, 0 unchanged",
        "file": str(path),
        "applied": ["created", "created"],
        "max": 4,
        "ipython": False,
    }
