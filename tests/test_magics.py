"""%compute / %%compute in IPython's InteractiveShell against the real local control plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import test_config_apply as config_stack
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config


@pytest.fixture
def shell(ipython):
    """A shell with the extension loaded (no backend: help, parsing, completion of words)."""
    return ipython()


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["ComputeMagics"]


def compute(ip, line):
    return ip.run_line_magic("compute", line)


def cell(ip, line, body):
    return ip.run_cell_magic("compute", line, textwrap.dedent(body))


def usage_error(ip, capsys, code):
    """Run `code` as a notebook cell: it must fail with a one-line UsageError, no traceback."""
    capsys.readouterr()
    result = ip.run_cell(code)
    captured = capsys.readouterr()
    assert not result.success
    assert isinstance(result.error_in_exec, UsageError), repr(result.error_in_exec)
    assert "Traceback" not in captured.out + captured.err
    message = str(result.error_in_exec)
    assert "\n" not in message
    assert f"UsageError: {message}" in captured.err
    return message


@pytest.fixture
def cc(client, uid):
    """A cluster in aws/us-east-1, deleted afterwards."""
    from compute_widgets.api.models import CloudProvider, ComputeCluster

    cid = uid("cc")
    client.create_cluster(
        ComputeCluster(id=cid, cloud_provider=CloudProvider(id="aws"), region="us-east-1")
    )
    yield cid
    try:
        client.delete_clusters([cid])
    except Exception:
        pass


@pytest.fixture
def pool(ip, cc, uid):
    """(cluster, nodepool) made through the magic."""
    nid = uid("np")
    compute(ip, f"np create {cc} {nid} --instance t3a.large --min 0 --max 2")
    return cc, nid


# --- loading --------------------------------------------------------------------------------


def test_load_ext_imports_nothing_heavy():
    code = textwrap.dedent(
        """
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        before = set(sys.modules)
        ip.run_line_magic("load_ext", "compute_widgets")
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        print(json.dumps({"new": sorted(new), "line": "compute" in ip.magics_manager.magics["line"],
                          "cell": "compute" in ip.magics_manager.magics["cell"]}))
        """
    )
    # what %load_ext itself imports: its background warm-up (_warm.start) imports the simulator
    # in a thread on purpose, and whether that thread got to pandas before the check is a race
    env = {**os.environ, "COMPUTE_WIDGETS_WARM_UP": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["line"] and report["cell"]
    heavy = {"pandas", "plotly", "ipywidgets", "fastapi", "numba", "httpx", "pydantic", "yaml"}
    assert not heavy & set(report["new"]), report["new"]


def test_unload_pops_magics_closes_clients_and_stops_monitors(ip, magics, server, monkeypatch):
    monkeypatch.setenv("CLARIFAI_PAT", server.token)
    compute(ip, f"connect --api-base {server.url}")
    owned = magics.client
    stopped = []

    class Monitor:
        def stop(self):
            stopped.append(True)

    magics.track_monitor(Monitor())
    matcher = magics._matcher
    assert matcher in ip.Completer.custom_matchers
    ip.extension_manager.unload_extension("compute_widgets")
    assert "compute" not in ip.magics_manager.magics["line"]
    assert "compute" not in ip.magics_manager.magics["cell"]
    assert "ComputeMagics" not in ip.magics_manager.registry
    assert magics not in ip.configurables
    assert matcher not in ip.Completer.custom_matchers
    assert stopped == [True]
    assert owned._http.is_closed
    # loading again works (the fixture unloads once more at teardown: a no-op)
    ip.extension_manager.load_extension("compute_widgets")
    assert "compute" in ip.magics_manager.magics["line"]


def test_reload_ext_keeps_one_instance(shell):
    shell.run_line_magic("reload_ext", "compute_widgets")
    assert sum(1 for c in shell.configurables if type(c).__name__ == "ComputeMagics") == 1
    assert len([m for m in shell.Completer.custom_matchers if "compute" in repr(m)]) == 1


def test_config_traitlets(shell):
    shell.run_line_magic("config", "ComputeMagics.default_cluster = 'prod'")
    shell.run_line_magic("config", "ComputeMagics.page_size = 5")
    assert shell.magics_manager.registry["ComputeMagics"].default_cluster == "prod"
    assert shell.magics_manager.registry["ComputeMagics"].page_size == 5
    names = set(type(shell.magics_manager.registry["ComputeMagics"]).class_trait_names(config=True))
    assert {"user_id", "default_cluster", "page_size", "api_base"} <= names


def test_config_before_load_is_applied():
    c = Config()
    c.HistoryAccessor.enabled = False
    c.ComputeMagics.default_cluster = "dev"
    shell = InteractiveShell.instance(config=c)
    try:
        shell.extension_manager.load_extension("compute_widgets")
        assert shell.magics_manager.registry["ComputeMagics"].default_cluster == "dev"
        shell.extension_manager.unload_extension("compute_widgets")
    finally:
        InteractiveShell.clear_instance()


# --- help and usage errors ------------------------------------------------------------------


def test_help_overview_and_docstring(shell, capsys):
    assert compute(shell, "") is None
    out = capsys.readouterr().out
    for name in ("clusters|cc", "nodepools|np", "deployments|dp", "list-instances|li", "plan", "status"):
        assert name in out
    shell.run_line_magic("pinfo", "%compute")
    doc = capsys.readouterr().out
    assert "%%compute" in doc and "default_cluster" in doc


def test_subcommand_help_prints_without_exiting(shell, capsys):
    assert compute(shell, "np scale --help") is None
    out = capsys.readouterr().out
    assert "usage: %compute nodepools scale" in out and "--min" in out
    assert compute(shell, "np --help") is None
    out = capsys.readouterr().out
    assert "scale" in out and "delete|rm" in out
    result = shell.run_cell("%compute plan --help")
    assert result.success
    assert "--no-spot" in capsys.readouterr().out


def test_every_command_and_verb_has_one_handler_with_help():
    from compute_widgets.magics.dispatch import HANDLERS, build_parser
    from compute_widgets.magics.parsing import COMMANDS

    assert set(HANDLERS) == {c.name for c in COMMANDS}
    for cmd in COMMANDS:
        handlers = HANDLERS[cmd.name]()
        assert set(handlers) == (set(cmd.verbs) or {None}), cmd.name
        for verb, found in handlers.items():
            assert found.run.__name__ == f"run_{(verb or cmd.name).replace('-', '_')}"
            assert found.build.__name__ == f"build_{(verb or cmd.name).replace('-', '_')}"
            parser = build_parser(cmd, verb)
            assert parser.description and parser.description == found.run.__doc__.strip()


def test_unknown_subcommand_lists_valid_ones(shell, capsys):
    msg = usage_error(shell, capsys, "%compute frobnicate")
    assert "frobnicate" in msg
    for name in ("clusters|cc", "nodepools|np", "deployments|dp", "connect", "status"):
        assert name in msg


def test_unknown_verb_and_bad_arguments(shell, capsys):
    msg = usage_error(shell, capsys, "%compute np frob")
    assert "list|ls" in msg and "scale" in msg
    msg = usage_error(shell, capsys, "%compute np scale a b --min lots")
    assert "--min" in msg and "whole number" in msg
    msg = usage_error(shell, capsys, "%compute chart a b --kind pie")
    assert "invalid choice" in msg
    msg = usage_error(shell, capsys, "%compute cc create 'unbalanced")
    assert "quote" in msg
    msg = usage_error(shell, capsys, "%compute np scale a b")
    assert "--min and/or --max" in msg


def test_missing_cluster_says_how_to_set_default(shell, capsys):
    msg = usage_error(shell, capsys, "%compute np scale onlyone --max 2")
    assert "default_cluster" in msg


# --- clusters -------------------------------------------------------------------------------


def test_clusters_create_list_delete(ip, client, uid, capsys):
    cid = uid("cc")
    view = compute(ip, f"cc create {cid} --provider aws --region us-east-1 --description demo")
    assert view.id == cid and view.model.region == "us-east-1"
    assert cid in repr(view) and cid in view._repr_html_()
    df = compute(ip, "clusters list")
    assert cid in set(df["id"])
    df = compute(ip, "computecluster ls")
    assert cid in set(df["id"])
    compute(ip, f"cc rm {cid}")
    assert f"Deleted compute cluster(s): {cid}" in capsys.readouterr().out
    assert cid not in {c.id for c in client.list_clusters()}


def test_clusters_create_from_config_file(ip, client, uid, tmp_path):
    cid = uid("cc")
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "compute_cluster:\n  id: ignored\n  description: from yaml\n"
        "  cloud_provider: {id: aws}\n  region: us-east-1\n  managed_by: clarifai\n"
        "  cluster_type: dedicated\n"
    )
    view = compute(ip, f"cc c {cid} --config {path}")
    assert view.id == cid and view.description == "from yaml"
    client.delete_clusters([cid])


def test_clusters_duplicate_is_api_error_with_hint(ip, cc, capsys):
    msg = usage_error(ip, capsys, f"%compute cc create {cc}")
    assert "already exists" in msg or "409" in msg or "DUPLICATE" in msg


# --- nodepools ------------------------------------------------------------------------------


def test_nodepools_create_list_scale_delete(ip, client, cc, uid, capsys):
    nid = uid("np")
    view = compute(ip, f"np create {cc} {nid} --instance g5.xlarge --min 0 --max 3 --spot")
    assert view.id == nid and view.max_instances == 3 and view.model.spot
    assert "spot, on-demand" in repr(view)  # enums in words, not wire integers or names
    df = compute(ip, f"nodepools ls {cc}")
    assert list(df["id"]) == [nid]
    df_all = compute(ip, "np list")
    assert nid in set(df_all["id"])
    view = compute(ip, f"np scale {cc} {nid} --min 1 --max 5")
    assert (view.min_instances, view.max_instances) == (1, 5)
    assert client.get_nodepool(cc, nid).max_instances == 5
    compute(ip, f"np rm {cc} {nid}")
    assert "Deleted nodepool(s)" in capsys.readouterr().out
    assert client.list_nodepools(cc) == []


def test_nodepools_default_cluster_option(ip, cc, uid):
    ip.run_line_magic("config", f"ComputeMagics.default_cluster = '{cc}'")
    nid = uid("np")
    compute(ip, f"np create {nid} --instance t3a.large --max 2")
    view = compute(ip, f"np scale {nid} --max 4")
    assert view.max_instances == 4


def test_nodepools_create_from_config_file(ip, client, cc, uid, tmp_path):
    nid = uid("np")
    path = tmp_path / "np.yaml"
    path.write_text(
        "nodepool:\n  id: x\n  instance_types:\n    - id: g5.xlarge\n"
        "  node_capacity_type: {capacity_types: [1]}\n  min_instances: 0\n  max_instances: 2\n"
    )
    view = compute(ip, f"np create {cc} {nid} --config {path} --max 4")
    assert view.id == nid and view.max_instances == 4
    assert client.get_nodepool(cc, nid).instance_type_id == "g5.xlarge"


def test_nodepools_errors(ip, cc, pool, capsys, tmp_path):
    _, nid = pool
    msg = usage_error(ip, capsys, f"%compute np create {cc} other --instance h100.mega")
    assert "h100.mega" in msg and "%compute li" in msg
    msg = usage_error(ip, capsys, f"%compute np scale {cc} {nid} --min 9")
    assert "min_instances" in msg
    msg = usage_error(ip, capsys, f"%compute np create {cc} other")
    assert "--instance" in msg
    msg = usage_error(ip, capsys, f"%compute np create {cc} other --config {tmp_path}/missing.yaml")
    assert "cannot read" in msg
    msg = usage_error(ip, capsys, f"%compute np scale {cc} no-such-pool --max 2")
    assert "no-such-pool" in msg or "DOES_NOT_EXIST" in msg


# --- deployments ----------------------------------------------------------------------------


def test_deployments_create_list_get_logs_delete(ip, client, pool, uid, capsys):
    cc, nid = pool
    did = uid("dep")
    view = compute(
        ip, f"dp create {nid} {did} --model clarifai/main/llama/v1 --min-replicas 0 --max-replicas 2"
    )
    assert view.id == did
    assert view.model.autoscale_config.max_replicas == 2
    assert view.model.worker.model.id == "llama"
    df = compute(ip, f"deployments ls {nid}")
    assert list(df["id"]) == [did]
    assert did in set(compute(ip, "dp list")["id"])
    got = compute(ip, f"dp get {did}")
    assert got.id == did and got.model.nodepools[0].id == nid
    assert compute(ip, f"dp status {did}").id == did
    logs = compute(ip, f"dp logs {did} --log-type events")
    assert list(logs.columns) == ["timestamp", "nodepool", "kind", "message"]
    compute(ip, f"dp rm {did}")
    assert "Deleted deployment(s)" in capsys.readouterr().out
    assert did not in {d.id for d in client.list_deployments()}


def test_deployments_create_from_config_file(ip, pool, uid, tmp_path):
    cc, nid = pool
    did = uid("dep")
    path = tmp_path / "dep.yaml"
    path.write_text(
        "deployment:\n  worker:\n    model: {id: m1, user_id: u1, app_id: a1}\n"
        "  scheduling_choice: 4\n  autoscale_config: {min_replicas: 0, max_replicas: 3}\n"
    )
    view = compute(ip, f"dp create {nid} {did} --config {path} --cluster {cc}")
    assert view.id == did and view.model.autoscale_config.max_replicas == 3


def test_deployments_errors(ip, pool, capsys):
    _, nid = pool
    msg = usage_error(ip, capsys, f"%compute dp create {nid} d1 --model justamodel")
    assert "USER/APP/MODEL" in msg
    msg = usage_error(ip, capsys, "%compute dp get no-such-deployment")
    assert "DOES_NOT_EXIST" in msg and "check the ID" in msg
    msg = usage_error(ip, capsys, "%compute dp create nowhere d1 --model u/a/m")
    assert "nowhere" in msg


# --- catalog --------------------------------------------------------------------------------


def test_list_instances_filters(ip):
    everything = compute(ip, "list-instances")
    gpus = compute(ip, "li --cloud aws --region us-east-1 --gpu")
    big = compute(ip, "li --cloud aws --min-gpus 4 --min-gpu-mem 40")
    assert len(everything) > len(gpus) > len(big) > 0
    assert "g5.xlarge" in set(gpus["id"]) and "t3a.large" not in set(gpus["id"])
    assert "g5.xlarge" not in set(big["id"]) and "g6e.12xlarge" in set(big["id"])
    assert len(compute(ip, "li --cloud aws --min-gpus 64")) == 0


# --- %%compute YAML cells -------------------------------------------------------------------

STACK = config_stack.STACK  # one YAML stack for the engine's and the magic's tests


def test_cell_several_documents_dry_run_create_apply(ip, client, uid, capsys):
    ids = {"cc": uid("cc"), "np": uid("np"), "dep": uid("dep")}
    body = STACK.format(max=3, **ids)
    plan = cell(ip, "--dry-run", body)
    assert list(plan["kind"]) == ["compute_cluster", "nodepool", "deployment"]
    assert set(plan["action"]) == {"would create"}
    assert ids["cc"] not in {c.id for c in client.list_clusters()}

    with capture_output() as cap:
        done = cell(ip, "", body)
    assert list(done["action"]) == ["created"] * 3
    progress = [o.data.get("text/plain", "") for o in cap.outputs]
    assert any("[3/3]" in p for p in progress) and any("creating" in p for p in progress)
    np_ = client.get_nodepool(ids["cc"], ids["np"])
    assert np_.max_instances == 3 and np_.spot
    dep = client.get_deployment(ids["dep"])
    assert dep.nodepools[0].id == ids["np"] and dep.nodepools[0].compute_cluster.id == ids["cc"]

    msg = usage_error(ip, capsys, f"%%compute\n{body}")
    assert "already exists" in msg and "--apply" in msg

    done = cell(ip, "--apply", STACK.format(max=6, **ids))
    assert list(done["action"]) == ["updated"] * 3
    assert client.get_nodepool(ids["cc"], ids["np"]).max_instances == 6
    moved = STACK.format(max=6, **ids).replace("us-east-1", "us-west-2")
    msg = usage_error(ip, capsys, f"%%compute --apply\n{moved}")
    assert "cannot change" in msg and "nothing was created" in msg

    client.delete_deployments([ids["dep"]])
    client.delete_nodepools(ids["cc"], [ids["np"]])
    client.delete_clusters([ids["cc"]])


def test_cell_validates_everything_before_creating_anything(ip, client, uid, capsys):
    cid = uid("cc")
    body = (
        f"compute_cluster:\n  id: {cid}\n  cloud_provider: {{id: aws}}\n  region: us-east-1\n"
        "---\nnodepool:\n  id: -bad id\n  instance_types: [{id: g5.xlarge}]\n"
        "  node_capacity_type: {capacity_types: [1]}\n  min_instances: 5\n  max_instances: 2\n"
    )
    msg = usage_error(ip, capsys, f"%%compute\n{body}")
    assert "nothing was created" in msg and "document 2" in msg
    assert "min_instances" in msg
    assert cid not in {c.id for c in client.list_clusters()}


def test_cell_problem_names_the_document_by_its_place_in_the_cell(ip, client, uid, capsys):
    # The deployment is the cell's first document, though it is created last.
    ids = {"cc": uid("cc"), "np": uid("np"), "dep": uid("dep")}
    body = STACK.format(max=3, **ids).replace("min_replicas: 0", "min_replicas: 5")
    msg = usage_error(ip, capsys, f"%%compute\n{body}")
    assert msg.startswith(f"nothing was created, 1 problem(s): document 1 (deployment {ids['dep']!r}): ")
    assert "min_replicas" in msg
    assert ids["cc"] not in {c.id for c in client.list_clusters()}


def test_cell_nodepool_cluster_resolution(ip, client, cc, uid, capsys):
    nid = uid("np")
    body = (
        f"nodepool:\n  id: {nid}\n  instance_types: [{{id: t3a.large}}]\n"
        "  node_capacity_type: {capacity_types: [1]}\n  min_instances: 0\n  max_instances: 1\n"
    )
    msg = usage_error(ip, capsys, f"%%compute\n{body}")
    assert "which cluster" in msg and "--cluster" in msg
    msg = usage_error(ip, capsys, f"%%compute --cluster no-such-cluster\n{body}")
    assert "does not exist" in msg
    done = cell(ip, f"--cluster {cc}", body)
    assert list(done["cluster"]) == [cc]
    ip.run_line_magic("config", f"ComputeMagics.default_cluster = '{cc}'")
    nid2 = uid("np")
    cell(ip, "--dry-run", body.replace(nid, nid2))
    inline = body.replace(nid, nid2) + f"  compute_cluster: {{id: {cc}}}\n"
    ip.run_line_magic("config", "ComputeMagics.default_cluster = ''")
    assert list(cell(ip, "", inline)["cluster"]) == [cc]
    assert {nid, nid2} <= {n.id for n in client.list_nodepools(cc)}


def test_cell_errors(shell, capsys):
    msg = usage_error(shell, capsys, "%%compute\nhello: world\n")
    assert "hello" in msg or "compute_cluster" in msg
    msg = usage_error(shell, capsys, "%%compute\nnodepool: [unclosed\n")
    assert "line" in msg
    msg = usage_error(shell, capsys, "%%compute --dry-run --apply\ncompute_cluster: {id: x}\n")
    assert "not allowed with" in msg
    msg = usage_error(shell, capsys, "%%compute\n\n")
    assert "no document" in msg


# --- backend: connect / status / errors -----------------------------------------------------


def test_status_shows_backend_never_the_token(ip, server):
    table = compute(ip, "status")
    rows = table.as_dict()
    assert rows["backend"] == "local control plane"
    assert rows["user_id"] == "me" and rows["token"] == "set"
    assert rows["health"].startswith("ok")
    assert server.token not in repr(table) and server.token not in table._repr_html_()


def test_connect_api_base_reads_pat_from_environment(ip, magics, server, monkeypatch):
    monkeypatch.setenv("CLARIFAI_PAT", server.token)
    table = compute(ip, f"connect --api-base {server.url} --user-id me")
    assert table.as_dict()["api_base"] == server.url.rstrip("/")
    assert server.token not in repr(table)
    assert magics.client.base_url == server.url.rstrip("/")
    assert isinstance(compute(ip, "cc list").shape, tuple)


def test_connect_local_finds_the_running_server(ip, magics, server):
    table = compute(ip, f"connect --local --data-dir {server.data_dir}")
    assert table.as_dict()["backend"] == "local control plane"
    assert magics.client.base_url == server.url.rstrip("/")
    assert compute(ip, "status").as_dict()["health"].startswith("ok")


def test_connect_refuses_a_token_on_the_line_without_echoing_it(shell, capsys):
    secret = "pat-0123456789abcdef"
    for line in (f"--pat {secret}", f"--token={secret}", secret, f"--local {secret}"):
        msg = usage_error(shell, capsys, f"%compute connect {line}")
        assert secret not in msg
        assert "CLARIFAI_PAT" in msg or "not shown" in msg


def test_connection_failure_is_one_line(ip, magics, capsys):
    from compute_widgets.api.client import ComputeClient

    dead = ComputeClient("http://127.0.0.1:9", "tok-secret-value", retries=0, timeout=2)
    magics.client = dead
    msg = usage_error(ip, capsys, "%compute cc list")
    assert "cannot reach the server" in msg and "tok-secret-value" not in msg
    dead.close()


def test_api_errors_never_show_the_token(ip, magics, server, capsys):
    from compute_widgets.api.client import ComputeClient

    # The server's own 401 (identity check off, as through a tunnel): the hint names CLARIFAI_PAT.
    wrong = ComputeClient(server.url, "wrong-token-123456", retries=0, verify_identity=False)
    magics.client = wrong
    msg = usage_error(ip, capsys, "%compute cc list")
    assert "wrong-token-123456" not in msg and "CLARIFAI_PAT" in msg
    wrong.close()
    # By default the client checks the local server's identity first: a wrong token fails that
    # proof, the token is never sent, and the one line says so.
    wrong = ComputeClient(server.url, "wrong-token-123456", retries=0)
    magics.client = wrong
    msg = usage_error(ip, capsys, "%compute cc list")
    assert "wrong-token-123456" not in msg
    assert "did not prove it is the local control plane" in msg and "not sent" in msg
    assert "\n" not in msg.strip()
    wrong.close()


# --- views ----------------------------------------------------------------------------------


def test_wizard_and_browse_return_widgets(ip, pool, capsys):
    from compute_widgets import widgets

    cc, nid = pool
    assert isinstance(compute(ip, "wizard"), widgets.ClusterWizard)
    assert isinstance(compute(ip, f"wizard nodepool {cc}"), widgets.NodepoolWizard)
    assert isinstance(compute(ip, f"wizard deployment {cc} {nid}"), widgets.DeploymentWizard)
    assert isinstance(compute(ip, "browse"), widgets.ComputeBrowser)
    msg = usage_error(ip, capsys, "%compute wizard nodepool")
    assert "wizard nodepool CC" in msg


def test_chart_kinds(ip, client, pool):
    import plotly.graph_objects as go

    cc, nid = pool
    client.advance_clock(3600)
    for kind in ("utilization", "scaling", "cost"):
        fig = compute(ip, f"chart {cc} {nid} --range 1d --kind {kind}")
        assert isinstance(fig, go.Figure)
        assert nid in (fig.layout.title.text or "")


def test_monitor_is_tracked_and_stopped_on_unload(ip, magics, pool):
    cc, nid = pool
    with pytest.warns(UserWarning, match="no running asyncio loop"):
        monitor = compute(ip, f"monitor {cc} {nid} --interval 60")
    assert monitor in magics._monitors
    magics.close()
    assert not monitor.running
    assert magics._monitors == []


def test_plan_compares_current_and_proposed(ip, pool, monkeypatch):
    import plotly.io as pio

    # plotly picks its default renderer from the process it was imported in (a kernel or not);
    # fix the one a notebook frontend uses so the displayed figure is what we assert on.
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    cc, nid = pool
    with capture_output() as cap:
        table = compute(ip, f"plan {cc} {nid} --max 4 --spot --duration 1d")
    assert {"current", "proposed"} <= set(table.columns)
    assert len(table) > 0
    texts = [o.data.get("text/plain", "") for o in cap.outputs]
    assert any("simulating proposed" in t for t in texts)
    assert any("Figure" in t or "application/vnd.plotly.v1+json" in o.data for t, o in zip(texts, cap.outputs, strict=True))


def test_plan_needs_a_change(ip, pool, capsys):
    cc, nid = pool
    msg = usage_error(ip, capsys, f"%compute plan {cc} {nid}")
    assert "--min, --max, --spot or --no-spot" in msg


# --- completion -----------------------------------------------------------------------------


def complete(ip, line):
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(line, len(line))]


def test_complete_subcommands_verbs_options(shell):
    assert {"nodepools", "np", "nodepool"} <= set(complete(shell, "%compute n"))
    assert "list-instances" in complete(shell, "%compute l")
    assert complete(shell, "%compute np s") == ["scale"]
    assert set(complete(shell, "%compute dp ")) >= {"list", "get", "status", "logs", "rm"}
    assert complete(shell, "%compute chart a b --k") == ["--kind"]
    assert complete(shell, "%compute chart a b --kind ") == ["cost", "scaling", "utilization"]
    assert complete(shell, "%compute dp logs x --log-type e") == ["events"]
    assert complete(shell, "%%compute --dr") == ["--dry-run"]
    assert "--spot" in complete(shell, "%compute np create a b --s")
    # the legacy API too
    assert shell.complete("", "%compute np sc", 14)[1] == ["scale"]


def test_complete_cluster_and_nodepool_ids(ip, magics, client, pool, uid):
    cc, nid = pool
    compute(ip, "status")
    assert cc in complete(ip, "%compute np list ")
    assert complete(ip, f"%compute np scale {cc} {nid[:4]}") == [nid]
    assert complete(ip, f"%compute chart {cc} ") == [nid]
    assert complete(ip, f"%compute wizard deployment {cc} ") == [nid]
    assert cc in complete(ip, "%%compute --cluster ")
    # IDs are cached: a nodepool made behind the magic's back shows up once the cache expires
    from compute_widgets.api.models import Nodepool

    other = uid("np")
    model = client.get_nodepool(cc, nid).model_copy(update={"id": other})
    client.create_nodepool(cc, model)
    assert other not in complete(ip, f"%compute chart {cc} ")
    magics.completion_cache_seconds = 0
    assert other in complete(ip, f"%compute chart {cc} ")
    assert Nodepool  # imported for the model type


def test_complete_without_connection_offers_no_ids(ip, magics):
    magics.client = None
    magics._last_seen = None
    offered = complete(ip, "%compute np list ")
    assert not [c for c in offered if c.startswith(("cc-", "np-"))]
    assert "clusters" in complete(ip, "%compute c")
