"""Models to deploy: ListModels / GetModel / ListModelVersions of the local control plane, read
the way Clarifai's own clients read them (proto JSON parsing that rejects unknown fields, the
official JSON channel), and through ComputeClient."""

from __future__ import annotations

import json

import httpx
import pytest

from compute_widgets.api import models as m
from compute_widgets.api.client import AsyncComputeClient
from compute_widgets.api.errors import ApiError
from compute_widgets.local.models_catalog import DATA_FILE

pytest.importorskip("clarifai_grpc")

from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel  # noqa: E402
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

CATALOG = json.loads(DATA_FILE.read_text())["models"]
LLAMAS = ["Llama-3_2-3B-Instruct", "llama-3_1-8b-instruct", "llama2-7b-chat", "llama2-13b-chat"]


def get(server, path: str, **params) -> httpx.Response:
    return httpx.get(
        server.url + path, params=params, headers={"Authorization": f"Key {server.token}"}
    )


def parsed(response: httpx.Response, message):
    """The body as Clarifai's proto: any key the proto does not have raises ParseError."""
    return json_format.ParseDict(response.json(), message, ignore_unknown_fields=False)


def newest(entry: dict) -> dict:
    return max(entry["versions"], key=lambda v: v["created_at"])


# --- the wire ---------------------------------------------------------------------------------


def test_search_answers_clarifais_shape_with_the_matching_models(server):
    r = get(server, "/v2/models", search="llama")
    assert r.status_code == 200
    body = parsed(r, service_pb2.MultiModelResponse())
    assert body.status.code == 10000 and body.status.req_id
    assert [x.id for x in body.models] == LLAMAS
    by_id = {e["id"]: e for e in CATALOG}
    for model in body.models:
        entry = by_id[model.id]
        assert (model.user_id, model.app_id) == (entry["user_id"], entry["app_id"])
        assert model.model_version.id == newest(entry)["id"]  # the newest version rides along
        assert model.model_version.status.code == 21100  # MODEL_TRAINED: deployable
        assert model.visibility.gettable == resources_pb2.Visibility.Gettable.PUBLIC


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/v2/models", {"search": "LLAMA 3.2"}, ["Llama-3_2-3B-Instruct"]),  # every word, any case
        ("/v2/models", {"query": "whisper"}, ["whisper-large-v3"]),  # deprecated key still read
        ("/v2/models", {"search": "no-such-model"}, []),
        ("/v2/models", {"model_type_id": "visual-classifier"}, ["general-image-recognition"]),
        ("/v2/users/meta/apps/Llama-2/models", {}, ["llama2-7b-chat", "llama2-13b-chat"]),
        ("/v2/users/meta/models", {"search": "instruct"}, LLAMAS[:2]),
        ("/v2/users/me/models", {}, []),  # the local user owns no model
    ],
)
def test_filters(server, path, params, expected):
    r = get(server, path, **params)
    assert r.status_code == 200  # an owner or app without models is an empty list, not a 404
    body = parsed(r, service_pb2.MultiModelResponse())
    assert body.status.code == 10000
    assert [x.id for x in body.models] == expected


def test_paging_walks_the_whole_catalog_once(server):
    seen: list[str] = []
    sizes = []
    for page in range(1, 5):
        models = get(server, "/v2/models", page=page, per_page=5).json()["models"]
        sizes.append(len(models))
        seen += [f"{x['user_id']}/{x['app_id']}/{x['id']}" for x in models]
    total = len(CATALOG)
    assert sizes == [5, 5, total - 10, 0]
    assert seen == [f"{e['user_id']}/{e['app_id']}/{e['id']}" for e in CATALOG]
    bad = get(server, "/v2/models", per_page=-1)
    assert bad.status_code == 400 and "per_page" in bad.json()["status"]["description"]
    # proto3: per_page=0 means unset, the default page size (128 > the catalog)
    assert len(get(server, "/v2/models", per_page=0).json()["models"]) == total


def test_get_model_and_its_versions_newest_first(server):
    path = "/v2/users/mistralai/apps/completion/models/mistral-7B-Instruct"
    model = parsed(get(server, path), service_pb2.SingleModelResponse()).model
    entry = next(e for e in CATALOG if e["id"] == "mistral-7B-Instruct")
    assert model.model_version.id == newest(entry)["id"] and model.version_count == 2
    unscoped = parsed(
        get(server, "/v2/models/mistral-7B-Instruct"), service_pb2.SingleModelResponse()
    )
    assert unscoped.model == model
    versions = parsed(get(server, path + "/versions"), service_pb2.MultiModelVersionResponse())
    dates = [v.created_at.ToSeconds() for v in versions.model_versions]
    assert len(dates) == 2 and dates[0] > dates[1]
    assert {v.id for v in versions.model_versions} == {v["id"] for v in entry["versions"]}
    one = get(server, f"{path}/versions/{versions.model_versions[1].id}")
    assert parsed(one, service_pb2.SingleModelVersionResponse()).model_version.id == (
        versions.model_versions[1].id
    )


@pytest.mark.parametrize(
    ("path", "asked"),
    [
        ("/v2/models/no-such-model", "no-such-model"),
        # exists, but in another app
        ("/v2/users/meta/apps/Llama-2/models/Llama-3_2-3B-Instruct", "Llama-3_2-3B-Instruct"),
        ("/v2/users/meta/apps/Llama-3/models/no-such-model/versions", "no-such-model"),
        ("/v2/models/phi-4/versions/0000", "0000"),
    ],
)
def test_unknown_model_or_version_is_a_404_with_a_clarifai_status(server, path, asked):
    r = get(server, path)
    assert r.status_code == 404
    body = parsed(r, service_pb2.SingleModelResponse())
    assert body.status.code == 21200  # MODEL_DOES_NOT_EXIST
    assert f"'{asked}'" in body.status.description and body.status.req_id


def test_official_json_channel_reads_models(server):
    stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=server.url))
    meta = (("authorization", f"Key {server.token}"),)
    llama3 = resources_pb2.UserAppIDSet(user_id="meta", app_id="Llama-3")
    got = stub.ListModels(
        service_pb2.ListModelsRequest(user_app_id=llama3, search="llama"), metadata=meta
    )
    assert got.status.code == 10000 and [x.id for x in got.models] == LLAMAS[:2]
    versions = stub.ListModelVersions(
        service_pb2.ListModelVersionsRequest(user_app_id=llama3, model_id=LLAMAS[1]), metadata=meta
    )
    assert [v.id for v in versions.model_versions] == [
        v["id"] for v in sorted(CATALOG[1]["versions"], key=lambda v: v["created_at"], reverse=True)
    ]


# --- the client -------------------------------------------------------------------------------


def test_client_lists_searches_and_reads_models(client):
    assert [x.id for x in client.list_models("llama")] == LLAMAS
    assert [x.id for x in client.list_models(limit=3)] == [e["id"] for e in CATALOG[:3]]
    assert [x.path for x in client.list_models(user_id="meta", app_id="Llama-2")] == [
        "meta / Llama-2 / llama2-7b-chat",
        "meta / Llama-2 / llama2-13b-chat",
    ]
    assert [x.path for x in client.search_models("whisper")] == [
        "openai / whisper / whisper-large-v3"
    ]
    model = client.get_model("phi-4", "microsoft", "text-generation")
    assert model.model_version is not None and model.model_version.status["code"] == 21100
    versions = client.list_model_versions("face-detection", "clarifai", "main")
    assert [v.id for v in versions] == [
        v["id"]
        for v in sorted(CATALOG[11]["versions"], key=lambda v: v["created_at"], reverse=True)
    ]
    assert model.ref().model_version.id == model.model_version.id
    with pytest.raises(ApiError) as info:
        client.get_model("no-such-model")
    assert info.value.code_name == "MODEL_DOES_NOT_EXIST" and info.value.http_status == 404


async def test_async_client_reads_models(server):
    async with AsyncComputeClient(server.url, server.token) as c:
        assert [x.id for x in await c.list_models("llama", limit=2)] == LLAMAS[:2]
        found = await c.search_models("stable diffusion")
        assert [x.id for x in found] == ["stable-diffusion-xl"]
        versions = await c.list_model_versions("whisper-large-v3", "openai", "whisper")
        assert len(versions) == 1


def test_every_catalog_model_makes_a_valid_deployment():
    """What the picker fills in must pass the deployment rules for every model it can offer."""
    ids = set()
    for entry in CATALOG:
        assert 1 <= len(entry["versions"]) <= 2, entry["id"]
        model = m.Model.from_wire({**entry, "model_version": newest(entry)})
        d = m.Deployment(
            id="d1",
            worker=m.Worker(model=model.ref()),
            nodepools=[m.Nodepool(id="np", compute_cluster=m.ComputeCluster(id="cc"))],
        )
        assert d.problems() == [], (entry["id"], d.problems())
        ids |= {v["id"] for v in entry["versions"]}
    assert len(ids) == sum(len(e["versions"]) for e in CATALOG)  # version ids are unique
