"""The catalog handlers: cloud providers, regions, instance types (read-only; one function per
RPC, ``handler(plane, rq) -> body``)."""

from __future__ import annotations

from typing import Any

from compute_widgets.local.crud import (
    Plane,
)
from compute_widgets.local.wire import (
    C,
    Fail,
    Rq,
)


def list_providers(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {"cloud_providers": plane.catalog.providers_wire()}


def _provider_or_fail(plane: Plane, provider: str) -> None:
    if provider != "all" and not plane.catalog.has_provider(provider):
        raise Fail(
            C.CONN_DOES_NOT_EXIST,
            f"Cloud provider '{provider}' does not exist; choose one of {', '.join(plane.catalog.provider_ids)} (or 'all').",
        )


def list_regions(plane: Plane, rq: Rq) -> dict[str, Any]:
    provider = rq.path["provider"]
    _provider_or_fail(plane, provider)
    if provider == "all":
        ids = list(
            dict.fromkeys(
                r for p in plane.catalog.provider_ids for r in plane.catalog.region_ids(p)
            )
        )
    else:
        ids = plane.catalog.region_ids(provider)
    return {"regions": ids, "cloud_regions": [{"id": r} for r in ids]}


def list_instance_types(plane: Plane, rq: Rq) -> dict[str, Any]:
    provider, region = rq.path["provider"], rq.path["region"]
    _provider_or_fail(plane, provider)
    if region != "all":
        known = (
            plane.catalog.region_ids(provider)
            if provider != "all"
            else [r for p in plane.catalog.provider_ids for r in plane.catalog.region_ids(p)]
        )
        if region not in known:
            raise Fail(
                C.CONN_DOES_NOT_EXIST,
                f"Region '{region}' does not exist for cloud provider '{provider}'; choose one of {', '.join(known) or '(none)'} (or 'all').",
            )
    return {"instance_types": plane.catalog.instance_types_wire(provider, region)}
