"""The Clarifai CLI's contexts (issue 17): the file the real `clarifai` CLI writes, the order
connect() resolves in, ENVVAR values, malformed files, and PATs that never show.

Every test points HOME at its tmp_path (the CLI and `config_path()` both follow HOME), so the
user's own ~/.config/clarifai/config is never read or written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from compute_widgets import settings as s
from compute_widgets.api.contexts import (
    LOCAL_DATA_DIR_KEY,
    config_path,
    local_context_env,
    read_contexts,
    write_context,
)
from compute_widgets.api.errors import NotConfigured
from compute_widgets.settings import CLARIFAI_API, ContextWarning, Settings

CLI = str(Path(sys.executable).parent / "clarifai")
PAT_A = "ctx-pat-alpha-7f3a9c21"  # a context's PAT: must never show
PAT_B = "ctx-pat-bravo-5e8d1b04"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """HOME = tmp_path, no CLARIFAI_* variables: connect() sees only what the test writes."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(s.SESSION, "client", None)
    return tmp_path


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `clarifai` CLI (clarifai 12.5) with HOME in tmp and only the given CLARIFAI_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLARIFAI_")}
    clean.update(HOME=str(home), NO_COLOR="1", **env)
    return subprocess.run(
        [CLI, *args], env=clean, capture_output=True, text=True, timeout=120, check=True
    )


def _two_contexts(home: Path) -> Path:
    """prod (current) and staging, in the CLI's own layout."""
    path = config_path()
    write_context(
        "staging",
        {
            "CLARIFAI_API_BASE": "https://api-staging.example.com",
            "CLARIFAI_PAT": PAT_B,
            "CLARIFAI_USER_ID": "bob",
        },
    )
    write_context(
        "prod",
        {
            "CLARIFAI_API_BASE": "https://api.example.com",
            "CLARIFAI_PAT": PAT_A,
            "CLARIFAI_USER_ID": "alice",
        },
    )
    return path


# --- the file format, against the real CLI ------------------------------------------------------


def test_reads_the_file_the_real_cli_writes(home):
    # with no config file, the CLI writes its `default` context from the environment
    _cli(home, "config", "get-contexts", CLARIFAI_PAT=PAT_A, CLARIFAI_USER_ID="alice")
    path = home / ".config" / "clarifai" / "config"
    assert path.exists() and config_path() == path
    found = read_contexts()
    assert found.current == "default" and list(found.contexts) == ["default"]
    ctx = found.contexts["default"]
    assert (ctx.user_id, ctx.api_base) == ("alice", "https://api.clarifai.com")
    assert ctx.pat is not None and ctx.pat.reveal() == PAT_A


def test_the_real_cli_reads_and_switches_what_write_context_wrote(home):
    _cli(home, "config", "get-contexts", CLARIFAI_PAT=PAT_B, CLARIFAI_USER_ID="carol")
    write_context(
        "prod",
        {
            "CLARIFAI_API_BASE": "https://api.example.com",
            "CLARIFAI_PAT": PAT_A,
            "CLARIFAI_USER_ID": "alice",
        },
    )
    assert _cli(home, "config", "current-context").stdout.strip() == "prod"
    listed = json.loads(_cli(home, "config", "get-contexts", "-o", "json").stdout)
    by_name = {c["name"]: c["env"] for c in listed}
    assert by_name["prod"] == {
        "CLARIFAI_API_BASE": "https://api.example.com",
        "CLARIFAI_USER_ID": "alice",
    }
    assert by_name["default"]["CLARIFAI_USER_ID"] == "carol"  # the CLI's own context kept
    assert by_name["default"]["CLARIFAI_UI"] == "https://clarifai.com"  # and its extra key
    # the CLI switches back; we read its rewrite
    _cli(home, "config", "use-context", "default")
    found = read_contexts()
    assert found.current == "default" and found.get().user_id == "carol"
    assert found.contexts["prod"].pat.reveal() == PAT_A


def test_contexts_the_real_login_and_create_context_wrote_against_the_local_plane(
    home, server, monkeypatch
):
    # both commands verify the PAT with GetUser over gRPC: the local plane's gRPC door answers
    door = server.grpc_url
    assert door.startswith("http://127.0.0.1:"), door
    _cli(home, "config", "create-context", "loc", "--base-url", door, "--pat", server.token,
         "--user-id", "me")  # fmt: skip
    _cli(home, "login", door, "--pat", server.token, "--context", "lg")
    found = read_contexts()
    assert found.current == "lg"  # login makes its context current, create-context does not
    assert sorted(found.contexts) == ["default", "lg", "loc"]  # + the CLI's bootstrap default
    for name in ("lg", "loc"):
        ctx = found.contexts[name]
        assert (ctx.api_base, ctx.user_id, ctx.pat.reveal()) == (door, "me", server.token)
    empty = found.contexts["default"]  # written with CLARIFAI_PAT: '' and CLARIFAI_USER_ID: ''
    assert (empty.pat, empty.user_id) == (None, None)
    # connect() knows the gRPC door as the local plane and goes to its REST door
    monkeypatch.setenv("COMPUTE_WIDGETS_DATA_DIR", str(server.data_dir))
    got = Settings.resolve()
    assert (got.api_base, got.token, got.local, got.context) == (
        server.url,
        server.token,
        True,
        "lg",
    )
    with got.client() as client:  # and the REST door takes the runtime file's token
        assert client.is_local and "aws" in {p.id for p in client.list_cloud_providers()}


def test_write_context_is_private_atomic_and_keeps_the_rest(home):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        "contexts:\n  old:\n    env:\n      CLARIFAI_PAT: ENVVAR\n      CLARIFAI_USER_ID: olga\n"
        "current_context: old\nsomething_else: kept\n"
    )
    write_context("new", {"CLARIFAI_API_BASE": "https://x.example.com"}, make_current=False)
    raw = yaml.safe_load(path.read_text())
    assert raw["current_context"] == "old" and raw["something_else"] == "kept"
    assert raw["contexts"]["old"] == {"env": {"CLARIFAI_PAT": "ENVVAR", "CLARIFAI_USER_ID": "olga"}}
    assert raw["contexts"]["new"] == {"CLARIFAI_API_BASE": "https://x.example.com"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]  # no temp file left
    write_context("new", {"CLARIFAI_USER_ID": "nina"})  # replaced whole, as `clarifai login` does
    raw = yaml.safe_load(path.read_text())
    assert (
        raw["contexts"]["new"] == {"CLARIFAI_USER_ID": "nina"} and raw["current_context"] == "new"
    )


@pytest.mark.parametrize(
    ("name", "env", "words"),
    [
        ("", {"CLARIFAI_PAT": "x"}, "context name ''"),
        (" p ", {}, "without surrounding spaces"),
        ("p", {"CLARIFAI_PAT": 42}, "CLARIFAI_PAT must be a string, not int"),
    ],
)
def test_write_context_bad_arguments_write_nothing(home, name, env, words):
    with pytest.raises(NotConfigured, match=words) as info:
        write_context(name, env)
    assert "\n" not in str(info.value)
    assert not config_path().exists()


# --- ENVVAR ---------------------------------------------------------------------------------------


def _envvar_context(home: Path) -> None:
    write_context(
        "ev",
        {
            "CLARIFAI_API_BASE": "https://api.example.com",
            "CLARIFAI_PAT": "ENVVAR",
            "CLARIFAI_USER_ID": "ENVVAR",
        },
    )


def test_envvar_values_come_from_the_environment(home, monkeypatch):
    _envvar_context(home)
    monkeypatch.setenv("CLARIFAI_USER_ID", "from-env")
    ctx = read_contexts().get("ev")
    assert ctx.user_id == "from-env"
    assert ctx.pat is None
    assert list(ctx.missing) == ["CLARIFAI_PAT"]
    assert "CLARIFAI_PAT is not set" in ctx.missing["CLARIFAI_PAT"]
    # named explicitly: an error saying which variable to set
    with pytest.raises(NotConfigured, match="takes CLARIFAI_PAT from the environment"):
        Settings.resolve(context="ev")
    # as the current context: a one-line warning, then the next source (here: none allowed)
    no_backend = pytest.raises(NotConfigured, match="No Clarifai backend configured")
    with pytest.warns(ContextWarning, match="CLARIFAI_PAT is not set") as caught, no_backend:
        Settings.resolve(local=False)
    assert "\n" not in str(caught[0].message)


def test_envvar_pat_set_in_the_environment_is_used_with_the_contexts_base(home, monkeypatch):
    _envvar_context(home)
    write_context("other", {"CLARIFAI_PAT": PAT_B}, make_current=False)
    monkeypatch.setenv("CLARIFAI_PAT", PAT_A)
    got = Settings.resolve(context="ev")
    assert (got.api_base, got.token, got.context) == ("https://api.example.com", PAT_A, "ev")


# --- the order of resolution ----------------------------------------------------------------------


def test_current_context_when_nothing_else_says(home):
    _two_contexts(home)
    got = Settings.resolve(local=False)
    assert (got.api_base, got.token, got.user_id, got.local, got.context) == (
        "https://api.example.com",
        PAT_A,
        "alice",
        False,
        "prod",
    )


def test_environment_beats_the_context_and_is_never_mixed_with_it(home, monkeypatch):
    _two_contexts(home)
    monkeypatch.setenv("CLARIFAI_PAT", "env-pat-123456")
    got = Settings.resolve()
    # the env PAT goes to the env's (default) base, never to the context's host
    assert (got.api_base, got.token, got.user_id, got.context) == (
        CLARIFAI_API,
        "env-pat-123456",
        "me",
        None,
    )
    monkeypatch.delenv("CLARIFAI_PAT")
    monkeypatch.setenv("CLARIFAI_API_BASE", "https://env.example.com")
    got = Settings.resolve()
    assert (got.api_base, got.token, got.context) == ("https://env.example.com", None, None)
    monkeypatch.delenv("CLARIFAI_API_BASE")
    monkeypatch.setenv("CLARIFAI_USER_ID", "env-user")  # a user alone: the context, that user
    got = Settings.resolve()
    assert (got.api_base, got.token, got.user_id) == ("https://api.example.com", PAT_A, "env-user")


def test_explicit_arguments_beat_environment_and_context(home, monkeypatch):
    _two_contexts(home)
    monkeypatch.setenv("CLARIFAI_PAT", "env-pat-123456")
    got = Settings.resolve("https://arg.example.com", "arg-pat-123456", "arg-user")
    assert (got.api_base, got.token, got.user_id, got.context) == (
        "https://arg.example.com",
        "arg-pat-123456",
        "arg-user",
        None,
    )
    # a named context beats the environment; arguments still win field by field
    named = Settings.resolve(context="staging")
    assert (named.api_base, named.token, named.user_id) == (
        "https://api-staging.example.com",
        PAT_B,
        "bob",
    )
    mixed = Settings.resolve(user_id="arg-user", context="staging")
    assert (mixed.api_base, mixed.token, mixed.user_id) == (
        "https://api-staging.example.com",
        PAT_B,
        "arg-user",
    )


def test_no_config_file_is_silent_and_goes_on(home):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(NotConfigured, match="CLARIFAI_PAT"):
            Settings.resolve(local=False)


def test_unknown_context_lists_the_known_ones(home):
    _two_contexts(home)
    with pytest.raises(NotConfigured) as info:
        s.connect(context="qa")
    msg = str(info.value)
    assert "'qa'" in msg and "known: prod, staging" in msg and "\n" not in msg
    assert s.SESSION.client is None  # nothing connected


def test_context_and_local_together_are_refused(home):
    _two_contexts(home)
    with pytest.raises(NotConfigured, match="context=NAME or local=True"):
        Settings.resolve(local=True, context="prod")


def test_a_context_never_sends_its_pat_in_clear_to_another_host(home):
    write_context("lan", {"CLARIFAI_API_BASE": "http://10.1.2.3:8080", "CLARIFAI_PAT": PAT_A})
    with pytest.raises(NotConfigured, match="context 'lan'") as info:
        Settings.resolve(context="lan")
    assert PAT_A not in str(info.value)
    with pytest.warns(ContextWarning, match="unencrypted"), pytest.raises(NotConfigured):
        Settings.resolve(local=False)


# --- malformed files ----------------------------------------------------------------------------


MALFORMED = {
    "not yaml": (
        "contexts:\n  a: [1, 2\n",
        "line 3: not valid YAML (expected ',' or ']', but got '<stream end>')",
    ),
    "a list": ("- a\n- b\n", "must be a mapping with current_context and contexts, not a list"),
    "contexts a list": (
        "contexts: [a, b]\n",
        "contexts must be a mapping of name -> keys, not a list",
    ),
    "context a string": (
        "contexts:\n  a: hello\n",
        "context 'a' must be a mapping of keys, not a string",
    ),
    "unknown current": (
        "current_context: zed\ncontexts:\n  a: {CLARIFAI_PAT: x}\n",
        "current_context 'zed' is not one of the contexts (a)",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_is_one_line_naming_file_and_fault(home, case):
    text, words = MALFORMED[case]
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(NotConfigured) as info:
        read_contexts()
    assert str(info.value) == f"Clarifai CLI config {path}: {words}"
    # connect(): a one-line warning, then the next source
    no_backend = pytest.raises(NotConfigured, match="No Clarifai backend configured")
    with pytest.warns(ContextWarning) as caught, no_backend:
        Settings.resolve(local=False)
    (w,) = [w for w in caught if w.category is ContextWarning]
    assert str(w.message).startswith(f"Clarifai CLI config {path}: {words}")
    assert "\n" not in str(w.message)
    assert w.filename == __file__  # points at the caller's line, not into compute_widgets
    # writing refuses too, and leaves the file as it was
    with pytest.raises(NotConfigured):
        write_context("new", {"CLARIFAI_USER_ID": "x"})
    assert path.read_text() == text


def test_empty_file_and_the_clis_empty_bootstrap_mean_no_contexts(home):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert read_contexts().contexts == {} and read_contexts().current is None
    path.write_text("current_context: _empty_\ncontexts: {}\n")
    assert read_contexts().current is None


# --- the local control plane's context ------------------------------------------------------------


def test_the_local_planes_context_goes_to_its_rest_door(home, server, uid):
    # as `compute-widgets env --context local` writes it: the gRPC door, a token that may be stale
    grpc = (
        getattr(server, "grpc_url", "") or "http://127.0.0.1:1"
    )  # the door's port is what the official tools use
    write_context(
        "local", local_context_env(grpc, "stale-token-from-an-old-start", server.data_dir)
    )
    write_context(
        "prod",
        {"CLARIFAI_API_BASE": "https://api.example.com", "CLARIFAI_PAT": PAT_A},
        make_current=False,
    )
    got = Settings.resolve()
    assert (got.api_base, got.local, got.context, got.data_dir) == (
        server.url,
        True,
        "local",
        Path(server.data_dir),
    )
    assert got.token == server.token  # the runtime file's token, not the stale one
    client = s.connect()
    try:
        cid = uid("cc")
        from compute_widgets.api.models import CloudProvider, ComputeCluster

        client.create_cluster(
            ComputeCluster(id=cid, cloud_provider=CloudProvider(id="aws"), region="us-east-1")
        )
        assert cid in {c.id for c in client.list_clusters()}
        client.delete_clusters([cid])
    finally:
        client.close()
        s.SESSION.reset()


def test_a_local_context_with_an_old_grpc_port_still_connects_and_says_to_rewrite_it(home, server):
    door = server.grpc_url
    assert door, "the session's plane has a gRPC door"
    write_context("local", local_context_env("http://127.0.0.1:1", "old-token", server.data_dir))
    with pytest.warns(ContextWarning) as caught:
        got = Settings.resolve()
    assert (got.api_base, got.token, got.local) == (server.url, server.token, True)
    (w,) = [w for w in caught if w.category is ContextWarning]
    assert str(w.message) == (
        f"context 'local' points the official clarifai tools at http://127.0.0.1:1, but the "
        f"local control plane's gRPC door is now {door}; run `compute-widgets env --context "
        f"local` again"
    )
    write_context("local", local_context_env(door, "old-token", server.data_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current port: no warning
        assert Settings.resolve().api_base == server.url


def test_a_loopback_context_on_the_planes_port_is_recognised_without_the_marker(home, server):
    # e.g. `clarifai login http://127.0.0.1:PORT` against the plane: no data dir key
    door = getattr(server, "grpc_url", "") or server.url
    write_context(
        "mine", {"CLARIFAI_API_BASE": door, "CLARIFAI_PAT": "whatever", "CLARIFAI_USER_ID": "me"}
    )
    got = Settings.resolve(context="mine", data_dir=server.data_dir)
    assert (got.api_base, got.token, got.local) == (server.url, server.token, True)
    # a loopback base on another port is an ordinary API base (a tunnel, say)
    write_context("tunnel", {"CLARIFAI_API_BASE": "http://127.0.0.1:9", "CLARIFAI_PAT": PAT_A})
    got = Settings.resolve(context="tunnel", data_dir=server.data_dir)
    assert (got.api_base, got.token, got.local) == ("http://127.0.0.1:9", PAT_A, False)
    assert LOCAL_DATA_DIR_KEY not in read_contexts().contexts["tunnel"].env


# --- a PAT never shows ----------------------------------------------------------------------------


def test_reprs_never_show_a_pat(home):
    _two_contexts(home)
    found = read_contexts()
    texts = [repr(found), str(found), repr(found.get()), str(found.get("staging"))]
    texts.append(repr(Settings.resolve(context="prod")))
    for text in texts:
        assert PAT_A not in text and PAT_B not in text
    assert "'****'" in repr(found.get())  # shown masked, so the search above meant something


@pytest.fixture
def shell(home, ipython):
    return ipython()


def test_compute_contexts_lists_names_users_bases_and_current_never_a_pat(shell, home):
    _two_contexts(home)
    table = shell.run_line_magic("compute", "contexts")
    assert table.rows == [  # in the file's order (sorted, as the CLI writes it)
        ("*", "prod", "alice", "https://api.example.com"),
        ("", "staging", "bob", "https://api-staging.example.com"),
    ]
    for text in (repr(table), table._repr_html_()):
        assert PAT_A not in text and PAT_B not in text
        assert "prod" in text and "https://api-staging.example.com" in text
    assert "<tr style='font-weight:bold'><td>*</td><td>prod</td>" in table._repr_html_()


def test_compute_contexts_malformed_and_empty(shell, home):
    from IPython.core.error import UsageError

    assert "no Clarifai contexts" in repr(shell.run_line_magic("compute", "contexts"))
    config_path().parent.mkdir(parents=True)
    config_path().write_text("- a\n")
    with pytest.raises(UsageError, match="must be a mapping") as info:
        shell.run_line_magic("compute", "contexts")
    assert "\n" not in str(info.value)


def test_compute_connect_context(shell, home, server):
    from IPython.core.error import UsageError

    write_context(
        "mine",
        {"CLARIFAI_API_BASE": server.url, "CLARIFAI_PAT": server.token, "CLARIFAI_USER_ID": "me"},
    )
    write_context("prod", {"CLARIFAI_API_BASE": "https://api.example.com", "CLARIFAI_PAT": PAT_A})
    table = shell.run_line_magic("compute", "connect --context mine")
    rows = table.as_dict()
    assert (rows["context"], rows["api_base"], rows["token"]) == ("mine", server.url, "set")
    assert rows["health"].startswith("ok")
    assert server.token not in repr(table) and server.token not in table._repr_html_()
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("compute", "connect --context nope")
    assert "known: mine, prod" in str(info.value) and PAT_A not in str(info.value)
    with pytest.raises(UsageError):
        shell.run_line_magic("compute", "connect --context mine --local")


def test_connect_context_completes_the_contexts_names(shell, home):
    from IPython.core.completer import provisionalcompleter

    def complete(line: str) -> list[str]:
        with provisionalcompleter():
            return [c.text for c in shell.Completer.completions(line, len(line))]

    assert "prod" not in complete("%compute connect --context ")  # no config file yet
    _two_contexts(home)
    assert complete("%compute connect --context ") == ["prod", "staging"]
    assert complete("%compute connect --context st") == ["staging"]
    write_context("local", {"CLARIFAI_API_BASE": "http://127.0.0.1:9", "CLARIFAI_PAT": PAT_B})
    assert complete("%compute connect --context ") == ["local", "prod", "staging"]  # read afresh


CONTEXT_CELLS = [
    "import compute_widgets as cw\nc = cw.connect()\nprint(repr(c), str(c)); c",
    "from compute_widgets.api.contexts import read_contexts\nf = read_contexts()\n"
    "print(f, f.get()); display(f, f.get('mine'), vars(f.get('mine')))",
    "from compute_widgets.settings import Settings\nSettings.resolve(context='mine')",
    "%load_ext compute_widgets",
    "%compute contexts",
    "%compute connect --context mine",
    "%compute status",
    "from compute_widgets.widgets import ClusterWizard, ComputeBrowser\n"
    "browser = ComputeBrowser(c)\nwiz = ClusterWizard(c)\nawait browser.wait(); await wiz.wait()\n"
    "display(browser, wiz)",
]


@pytest.mark.slow
def test_a_notebook_using_contexts_saves_no_pat(home, fresh_server, tmp_path):
    """A context's PAT (here the fresh server's token, used as a PAT over its REST url) is not in
    the notebook saved with its outputs and widget state."""
    import nbclient
    import nbformat

    token = fresh_server.token
    write_context("other", {"CLARIFAI_API_BASE": "https://api.example.com", "CLARIFAI_PAT": PAT_B})
    write_context(
        "mine",
        {"CLARIFAI_API_BASE": fresh_server.url, "CLARIFAI_PAT": token, "CLARIFAI_USER_ID": "me"},
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CONTEXT_CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    work = tmp_path / "work"
    work.mkdir()
    nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(work)}},
    ).execute()  # fmt: skip
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    from urllib.parse import quote

    for secret in (token, quote(token, safe=""), token[:20], token[-20:], PAT_B):
        assert secret not in text, f"a PAT ({secret[:6]}…) is in the saved notebook"
    # the search meant something: the context was used and the widgets saved their state
    assert fresh_server.url in text and "mine" in text and "****" in text
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert len(state) > 20
