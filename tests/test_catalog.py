"""Catalog: the packaged data file, its wire form and the simulator's InstanceSpec."""

from __future__ import annotations

import json

import pytest

from compute_widgets.api import models as m
from compute_widgets.local.catalog import DATA_FILE, Catalog


@pytest.fixture(scope="module")
def cat():
    return Catalog.load()


def test_size_and_providers(cat):
    assert len(cat) >= 60
    assert {"aws", "gcp", "azure", "vultr", "oracle", "lambda", "local"} == set(cat.provider_ids)
    assert cat.region_ids("gcp") == ["us-east4", "us-central1"]
    assert cat.region_ids("nope") == []


def test_every_entry_is_complete_and_consistent(cat):
    data = json.loads(DATA_FILE.read_text())
    for e in data["instance_types"]:
        where = e["id"]
        assert e["cpu_cores"] > 0 and e["memory_gib"] > 0, where
        assert e["price_od"] >= 0 and e["price_od_source"], where
        assert float(e["price"]) >= 0, where
        assert set(e["capacity_types"]) <= {1, 2} and e["capacity_types"], where
        if 2 in e["capacity_types"]:
            assert 0 < e["price_spot"] < e["price_od"] and e["price_spot_source"], where
        if e.get("gpus"):
            assert e["accelerator"] and e["gpu_memory_gib"] > 0, where
        if e.get("contact_sales"):
            assert e["price"] == "65.000000" and "estimate" in e["price_od_source"], where
        elif e["provider"] != "local" and "gh200" not in e["id"]:
            # the API price is ~ USD/h / 0.036 (clarifai-api.md §2.4); GH200 is a known outlier
            assert abs(float(e["price"]) * 0.036 - e["price_od"]) <= 0.05 * e["price_od"] + 0.02, (
                where
            )


def test_documented_rows(cat):
    g5 = cat.spec("g5.xlarge")
    assert (g5.vcpu, g5.memory_gib, g5.gpus, g5.gpu_memory_gib, g5.price_od) == (
        3.5,
        13.55,
        1,
        22.49,
        1.26,
    )
    assert g5.spot_allowed and g5.od_allowed and 0.4 * 1.26 < g5.price_spot < 0.5 * 1.26
    assert (g5.nominal_vcpu, g5.nominal_memory_gib) == (4, 16)
    h100 = cat.spec("a3-highgpu-1g")
    assert h100.spot_allowed and not h100.od_allowed
    vc2 = cat.spec("vc2-2c-4gb")
    assert not vc2.spot_allowed and vc2.price_spot == vc2.price_od and not vc2.is_gpu
    assert cat.spec("t4g.medium").architecture == "linux/arm64"
    local = cat.spec("local")
    assert local.price_od == 0 and local.provider == "local"
    with pytest.raises(KeyError, match="warp"):
        cat.spec("warp")


def test_listing_with_all_and_per_region(cat):
    everything = cat.instance_types("all", "all")
    assert all(isinstance(t, m.InstanceType) for t in everything)
    vultr = cat.instance_types("vultr", "all")
    assert len(vultr) == 4 * len({t.id for t in vultr})  # one entry per (type, region)
    chicago = cat.instance_types("vultr", "chicago")
    assert {t.region for t in chicago} == {"chicago"}
    assert cat.instance_types("aws", "eu-west-1") == []
    assert {t.id for t in cat.instance_types("all", "us-central1")} >= {"ct5lp-hightpu-1t"}


def test_wire_form_parses_with_the_models(cat):
    it = cat.find("g6e.12xlarge", "aws", "us-east-1")
    assert it.price == "364.000000" and it.is_gpu
    assert it.compute_info.num_accelerators == 4
    assert it.gpu_memory_gib == pytest.approx(44.99, abs=0.01)
    assert it.vcpu == pytest.approx(47.4) and it.memory_gib == pytest.approx(351.44, abs=0.01)
    assert it.allowed_capacity_types.capacity_types == [
        m.CapacityType.ON_DEMAND_TYPE,
        m.CapacityType.SPOT_TYPE,
    ]
    assert cat.find("g6e.12xlarge", "gcp") is None
    assert cat.find("g6e.12xlarge", region="us-east4") is None
    tpu = cat.instance_type_wire("ct5lp-hightpu-4t")
    assert tpu["compute_info"]["accelerator_topology"] == ["2x2"]
    assert tpu["region"] == "us-central1"


def test_cached_wire_lists_are_stable(cat):
    a = cat.instance_types_wire("aws", "us-east-1")
    b = cat.instance_types_wire("aws", "us-east-1")
    assert a is b and len(a) == 20
    assert cat.offered_in("g5.xlarge", "aws", "us-east-1")
    assert not cat.offered_in("g5.xlarge", "gcp", "us-east4")


def test_bad_data_is_rejected():
    with pytest.raises(ValueError, match="unique"):
        Catalog(
            {
                "providers": [{"id": "p", "regions": ["r"]}],
                "instance_types": [
                    {"id": "x", "provider": "p", "regions": ["r"]},
                    {"id": "x", "provider": "p", "regions": ["r"]},
                ],
            }
        )
    with pytest.raises(ValueError, match="region"):
        Catalog(
            {
                "providers": [{"id": "p", "regions": ["r"]}],
                "instance_types": [{"id": "x", "provider": "p", "regions": ["elsewhere"]}],
            }
        )
