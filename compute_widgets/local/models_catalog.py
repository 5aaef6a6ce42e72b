"""Models to deploy: ListModels, GetModel, ListModelVersions and GetModelVersion over a small
static catalog of public models (``models_catalog.json`` beside this module; sources and
caveats in its ``about`` block).

Routes are Clarifai's (the google.api.http bindings of clarifai-grpc's V2 service):

    GET /v2/models                                              every public model
    GET /v2/users/{user_id}/models                              the models of one owner
    GET /v2/users/{user_id}/apps/{app_id}/models                the models of one app
    GET …/models/{model_id}            (or /v2/models/{model_id})             GetModel
    GET …/models/{model_id}/versions   (or /v2/models/{model_id}/versions)    ListModelVersions
    GET …/models/{model_id}/versions/{version_id}                             GetModelVersion

Decisions where Clarifai documents nothing:

- ``search`` (``query`` and ``name``, deprecated in the proto, are read when it is absent):
  every word must occur, case-insensitively, in the model's id, name, owner, app, type or
  description. ``model_type_id`` filters exactly. Order: the catalog's, newest version first.
- An owner or app without models lists nothing (200, ``models: []``); an unknown model or
  version is a 404 MODEL_DOES_NOT_EXIST naming what was asked for and how to find it.
- ``/v2/models/{model_id}`` is the first public model with that id.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from compute_widgets.local.crud import Plane
from compute_widgets.local.wire import C, Fail, Rq

DATA_FILE = Path(__file__).with_name("models_catalog.json")
PUBLIC = 50  # Visibility.Gettable.PUBLIC
TRAINED = {"code": int(C.MODEL_TRAINED), "description": "Model is trained and ready"}


@cache
def load(path: Path = DATA_FILE) -> tuple[dict[str, Any], ...]:
    """The catalog's models as wire dicts, each with its ``versions`` newest first."""
    raw = json.loads(path.read_text(encoding="utf-8"))["models"]
    out = []
    for entry in raw:
        owner = {"user_id": entry["user_id"], "app_id": entry["app_id"]}
        versions = sorted(entry["versions"], key=lambda v: v["created_at"], reverse=True)
        versions = [
            {**v, "status": TRAINED, "visibility": {"gettable": PUBLIC}, **owner} for v in versions
        ]
        model = {k: v for k, v in entry.items() if k != "versions"}
        model.update(
            visibility={"gettable": PUBLIC},
            modified_at=versions[0]["created_at"],
            model_version=versions[0],
            version_count=len(versions),
            versions=versions,
        )
        out.append(model)
    return tuple(out)


def _wire(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k != "versions"}


def _haystack(model: dict[str, Any]) -> str:
    keys = ("id", "name", "user_id", "app_id", "model_type_id", "description")
    return " ".join(str(model.get(k, "")) for k in keys).lower()


def matches(model: dict[str, Any], search: str) -> bool:
    text = _haystack(model)
    return all(word in text for word in search.lower().split())


def _search_text(rq: Rq) -> str:
    for key in ("search", "query", "name"):
        value = rq.q1(key)
        if value and value.strip():
            return value.strip()
    return ""


def list_models(plane: Plane, rq: Rq) -> dict[str, Any]:
    page, per_page = rq.paging()
    search = _search_text(rq)
    model_type = (rq.q1("model_type_id") or "").strip()
    owner = rq.user if "user_id" in rq.path else None
    app = rq.path.get("app_id")
    found = [
        m
        for m in load()
        if (owner is None or m["user_id"] == owner)
        and (app is None or m["app_id"] == app)
        and (not model_type or m["model_type_id"] == model_type)
        and matches(m, search)
    ]
    start = (page - 1) * per_page
    return {"models": [_wire(m) for m in found[start : start + per_page]]}


def _model_or_fail(rq: Rq) -> dict[str, Any]:
    model_id = rq.path["model_id"]
    scoped = "user_id" in rq.path
    for m in load():
        if m["id"] == model_id and (
            not scoped or (m["user_id"] == rq.user and m["app_id"] == rq.path["app_id"])
        ):
            return m
    where = f" of user '{rq.user}', app '{rq.path['app_id']}'" if scoped else ""
    raise Fail(
        C.MODEL_DOES_NOT_EXIST,
        f"Model '{model_id}'{where} does not exist; find a model's owner, app and id with "
        "GET /v2/models?search=<words of its name>.",
    )


def get_model(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {"model": _wire(_model_or_fail(rq))}


def list_model_versions(plane: Plane, rq: Rq) -> dict[str, Any]:
    versions = _model_or_fail(rq)["versions"]
    page, per_page = rq.paging()
    start = (page - 1) * per_page
    return {"model_versions": versions[start : start + per_page]}


def get_model_version(plane: Plane, rq: Rq) -> dict[str, Any]:
    model = _model_or_fail(rq)
    version_id = rq.path["version_id"]
    for v in model["versions"]:
        if v["id"] == version_id:
            return {"model_version": v}
    known = ", ".join(v["id"] for v in model["versions"])
    raise Fail(
        C.MODEL_DOES_NOT_EXIST,
        f"Model '{model['id']}' has no version '{version_id}'; its versions are {known}.",
    )
