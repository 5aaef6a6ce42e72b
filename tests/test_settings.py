"""Where connect() goes: explicit arguments > CLARIFAI_* environment > the Clarifai CLI's current
context > the local control plane (the contexts themselves: tests/test_contexts.py)."""

from __future__ import annotations

import sys

import pytest

from compute_widgets import settings as s
from compute_widgets.api.errors import NotConfigured
from compute_widgets.settings import CLARIFAI_API, Settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    # HOME in tmp: a Clarifai CLI context of the user running the tests must not decide
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_pat_in_environment_means_clarifai(env):
    env.setenv("CLARIFAI_PAT", "env-pat-123456")
    got = Settings.resolve()
    assert (got.api_base, got.token, got.user_id, got.local) == (
        CLARIFAI_API,
        "env-pat-123456",
        "me",
        False,
    )


def test_explicit_arguments_beat_the_environment(env):
    env.setenv("CLARIFAI_PAT", "env-pat-123456")
    env.setenv("CLARIFAI_USER_ID", "env-user")
    env.setenv("CLARIFAI_API_BASE", "https://env.example.com/")
    got = Settings.resolve("https://arg.example.com", "arg-pat-123456", "arg-user")
    assert (got.api_base, got.token, got.user_id) == (
        "https://arg.example.com",
        "arg-pat-123456",
        "arg-user",
    )
    partly = Settings.resolve(user_id="arg-user")
    assert (partly.api_base, partly.token, partly.user_id) == (
        "https://env.example.com",
        "env-pat-123456",
        "arg-user",
    )


def test_repr_hides_the_pat(env):
    got = Settings.resolve(pat="very-secret-pat-42")
    assert "very-secret-pat-42" not in repr(got) and "very-secret-pat-42" not in str(got)
    client = got.client()
    assert "very-secret-pat-42" not in repr(client)
    client.close()


def test_local_false_without_pat_says_how_to_configure(env):
    with pytest.raises(NotConfigured, match="CLARIFAI_PAT"):
        Settings.resolve(local=False)


def test_no_local_control_plane_says_how_to_configure(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "compute_widgets.local.runtime", None)  # import fails
    with pytest.raises(NotConfigured, match="CLARIFAI_PAT"):
        Settings.resolve()


def test_fallback_is_the_local_control_plane(env, tmp_path, monkeypatch):
    from compute_widgets.local.runtime import find_server, stop_server

    monkeypatch.setattr(s.SESSION, "client", None)
    client = s.connect(data_dir=tmp_path / "cp")
    try:
        assert client.is_local and client.user_id == "me"
        assert s.get_client() is client
        # a fresh store: nothing but the shared cluster the server seeds
        assert all(c.cluster_type == "shared" for c in client.list_clusters())
        again = Settings.resolve(data_dir=tmp_path / "cp")  # found through the runtime file
        assert again.api_base == client.base_url and again.local
        env.setenv("CLARIFAI_PAT", "env-pat-123456")
        forced = Settings.resolve(local=True, data_dir=tmp_path / "cp")
        assert forced.api_base == client.base_url
    finally:
        client.close()
        handle = find_server(tmp_path / "cp")
        if handle is not None:
            stop_server(handle)


async def test_connect_async(env, server, monkeypatch):
    c = s.connect_async(server.url, server.token)
    try:
        assert await c.list_cloud_providers()
    finally:
        await c.close()


def test_a_current_context_is_used_before_the_local_plane(env, tmp_path):
    from compute_widgets.api.contexts import write_context

    write_context(
        "prod", {"CLARIFAI_API_BASE": "https://p.example.com", "CLARIFAI_PAT": "ctx-pat-9"}
    )
    got = Settings.resolve()
    assert (got.api_base, got.token, got.local, got.context) == (
        "https://p.example.com",
        "ctx-pat-9",
        False,
        "prod",
    )
    # data_dir= is about the local plane: it skips the context
    from compute_widgets.local.runtime import find_server, stop_server

    try:
        local = Settings.resolve(data_dir=tmp_path / "cp")
        assert local.local and local.context is None and local.api_base.startswith("http://127.")
    finally:
        handle = find_server(tmp_path / "cp")
        if handle is not None:
            stop_server(handle)
