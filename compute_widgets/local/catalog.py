"""Cloud providers, regions and instance types of the local control plane.

The data lives in ``catalog.json`` beside this module (sources and caveats in its ``about``
block): Clarifai's documented instance types with their allocatable specs, Clarifai's $/h,
spot prices derived from cloud catalogs, the API's ``price`` string and the allowed capacity
types. `Catalog` serves it in two shapes: Clarifai wire dicts (what the HTTP routes send, built
once and cached) and `InstanceSpec` (plain numbers in USD/h, what the simulator wants).

Region handling: an instance type is offered in each of its ``regions``; listings with
``"all"`` return one entry per (type, region) pair, like the real ListInstanceTypes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # models are imported lazily: the wire-dict path must stay cheap
    from compute_widgets.api.models import CloudProvider, CloudRegion, InstanceType

DATA_FILE = Path(__file__).with_name("catalog.json")
ALL = "all"
ON_DEMAND, SPOT = 1, 2


@dataclasses.dataclass(frozen=True)
class InstanceSpec:
    """One instance type as numbers: allocatable cores/GiB, accelerators, USD per hour.

    `price_spot` equals `price_od` when spot is not offered (`spot_allowed` False), so cost
    arithmetic never meets a None.
    """

    id: str
    vcpu: float
    memory_gib: float
    gpus: int
    gpu_memory_gib: float  # per accelerator
    accelerator: str
    price_od: float
    price_spot: float
    spot_allowed: bool
    od_allowed: bool
    is_gpu: bool  # any accelerator (GPU or TPU)
    provider: str = ""
    regions: tuple[str, ...] = ()
    nominal_vcpu: float = 0.0
    nominal_memory_gib: float = 0.0
    architecture: str = "linux/amd64"
    contact_sales: bool = False  # price_od is an estimate; the API shows the placeholder price
    price_source: str = ""
    spot_price_source: str = ""


def _quantity_cpu(cores: float) -> str:
    """Kubernetes CPU quantity: "4" for whole cores, millicores otherwise ("3500m")."""
    if float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def _quantity_mem(gib: float) -> str:
    """Kubernetes memory quantity: "16Gi" for whole GiB, MiB otherwise ("13875Mi")."""
    if float(gib).is_integer():
        return f"{int(gib)}Gi"
    return f"{round(gib * 1024)}Mi"


def _flag_group(entry: dict[str, Any]) -> str:
    if entry.get("feature_flag_group"):
        return entry["feature_flag_group"]
    price = entry["price_od"]
    if price < 1.0:
        return "ComputeResourceSmall"
    if price < 10.0:
        return "ComputeResourceMedium"
    return "ComputeResourceLarge"


class Catalog:
    """Read-only catalog. Build with `Catalog.load()` (the packaged file) or `Catalog(data)`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._providers: list[dict[str, Any]] = data["providers"]
        self._entries: list[dict[str, Any]] = data["instance_types"]
        self._by_id = {e["id"]: e for e in self._entries}
        if len(self._by_id) != len(self._entries):
            raise ValueError("catalog.json: instance type ids must be unique")
        self._regions = {p["id"]: list(p["regions"]) for p in self._providers}
        for e in self._entries:
            for r in e["regions"]:
                if r not in self._regions.get(e["provider"], []):
                    raise ValueError(
                        f"catalog.json: {e['id']}: region {r!r} not listed for {e['provider']}"
                    )
        # (provider, region) -> wire dicts, filled lazily; wire dicts are built once.
        self._wire_cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        with open(path or DATA_FILE, encoding="utf-8") as f:
            return cls(json.load(f))

    # -- plain lookups -------------------------------------------------------------------------

    @property
    def provider_ids(self) -> list[str]:
        return [p["id"] for p in self._providers]

    def has_provider(self, provider: str) -> bool:
        return provider in self._regions

    def region_ids(self, provider: str) -> list[str]:
        """Regions of `provider` ([] when unknown)."""
        return list(self._regions.get(provider, []))

    def has_region(self, provider: str, region: str) -> bool:
        return region in self._regions.get(provider, ())

    @property
    def instance_type_ids(self) -> list[str]:
        return list(self._by_id)

    def entry(self, instance_type_id: str) -> dict[str, Any] | None:
        """The raw catalog.json entry (a copy), or None."""
        e = self._by_id.get(instance_type_id)
        return copy.deepcopy(e) if e is not None else None

    def offered_in(self, instance_type_id: str, provider: str, region: str) -> bool:
        e = self._by_id.get(instance_type_id)
        return e is not None and e["provider"] == provider and region in e["regions"]

    def allowed_capacity_types(self, instance_type_id: str) -> list[int]:
        e = self._by_id.get(instance_type_id)
        return list(e["capacity_types"]) if e else []

    # -- wire dicts (what the routes send) -----------------------------------------------------

    def _wire(self, e: dict[str, Any], region: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "cpu_limit": _quantity_cpu(e["cpu_cores"]),
            "cpu_memory": _quantity_mem(e["memory_gib"]),
        }
        desc = f"{_num(e['cpu_cores'])} cores, {_num(e['memory_gib'])}Gi RAM"
        if e.get("gpus"):
            info["num_accelerators"] = e["gpus"]
            info["accelerator_memory"] = _quantity_mem(e["gpu_memory_gib"])
            info["accelerator_type"] = [e["accelerator"]]
            if e.get("accelerator_topology"):
                info["accelerator_topology"] = [e["accelerator_topology"]]
            desc = f"{e['gpus']}x {e['accelerator']} ({_num(e['gpu_memory_gib'])}Gi), {desc}"
        out: dict[str, Any] = {
            "id": e["id"],
            "description": desc,
            "compute_info": info,
            "price": e["price"],
            "cloud_provider": {"id": e["provider"], "name": e["provider"]},
            "region": region,
            "allowed_capacity_types": {"capacity_types": list(e["capacity_types"])},
            "feature_flag_group": _flag_group(e),
            "architecture": e["architecture"],
        }
        return out

    def providers_wire(self) -> list[dict[str, Any]]:
        return [{"id": p["id"], "name": p["name"]} for p in self._providers]

    def regions_wire(self, provider: str) -> list[dict[str, Any]]:
        return [{"id": r} for r in self._regions.get(provider, [])]

    def instance_types_wire(self, provider: str = ALL, region: str = ALL) -> list[dict[str, Any]]:
        """Wire dicts, one per (type, region); `"all"` is a wildcard. Do not mutate the result's
        items (they are cached): deep-copy first."""
        key = (provider, region)
        cached = self._wire_cache.get(key)
        if cached is None:
            cached = [
                self._wire(e, r)
                for e in self._entries
                if provider in (ALL, e["provider"])
                for r in e["regions"]
                if region in (ALL, r)
            ]
            self._wire_cache[key] = cached
        return cached

    def instance_type_wire(
        self, instance_type_id: str, provider: str | None = None, region: str | None = None
    ) -> dict[str, Any] | None:
        """A fresh wire dict for one type (in `region` when given and offered there)."""
        e = self._by_id.get(instance_type_id)
        if e is None or (provider and provider != e["provider"]):
            return None
        if region and region not in e["regions"]:
            return None
        return self._wire(e, region or e["regions"][0])

    # -- models (contract API) -----------------------------------------------------------------

    def providers(self) -> list[CloudProvider]:
        from compute_widgets.api.models import CloudProvider

        return [CloudProvider.from_wire(p) for p in self.providers_wire()]

    def regions(self, provider: str) -> list[CloudRegion]:
        from compute_widgets.api.models import CloudRegion

        return [CloudRegion.from_wire(r) for r in self.regions_wire(provider)]

    def instance_types(self, provider: str = ALL, region: str = ALL) -> list[InstanceType]:
        from compute_widgets.api.models import InstanceType

        return [InstanceType.from_wire(w) for w in self.instance_types_wire(provider, region)]

    def find(
        self, instance_type_id: str, provider: str | None = None, region: str | None = None
    ) -> InstanceType | None:
        """The type, or None when unknown or not offered in that provider/region."""
        from compute_widgets.api.models import InstanceType

        w = self.instance_type_wire(instance_type_id, provider, region)
        return InstanceType.from_wire(w) if w is not None else None

    def spec(self, instance_type_id: str) -> InstanceSpec:
        """Numbers for the simulator. KeyError (naming the id) when unknown."""
        try:
            return self._specs[instance_type_id]
        except KeyError:
            raise KeyError(f"unknown instance type {instance_type_id!r}") from None

    @cached_property
    def _specs(self) -> dict[str, InstanceSpec]:
        out = {}
        for e in self._entries:
            caps = e["capacity_types"]
            spot_ok = SPOT in caps and e.get("price_spot") is not None
            out[e["id"]] = InstanceSpec(
                id=e["id"],
                vcpu=float(e["cpu_cores"]),
                memory_gib=float(e["memory_gib"]),
                gpus=int(e.get("gpus", 0)),
                gpu_memory_gib=float(e.get("gpu_memory_gib", 0.0)),
                accelerator=e.get("accelerator", ""),
                price_od=float(e["price_od"]),
                price_spot=float(e["price_spot"]) if spot_ok else float(e["price_od"]),
                spot_allowed=spot_ok,
                od_allowed=ON_DEMAND in caps,
                is_gpu=bool(e.get("gpus", 0)),
                provider=e["provider"],
                regions=tuple(e["regions"]),
                nominal_vcpu=float(e.get("nominal_vcpu", e["cpu_cores"])),
                nominal_memory_gib=float(e.get("nominal_memory_gib", e["memory_gib"])),
                architecture=e["architecture"],
                contact_sales=bool(e.get("contact_sales", False)),
                price_source=e.get("price_od_source", ""),
                spot_price_source=e.get("price_spot_source", ""),
            )
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalog({len(self._providers)} providers, {len(self._entries)} instance types)"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
