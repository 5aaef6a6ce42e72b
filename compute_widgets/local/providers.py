"""The catalog handlers: cloud providers, regions, instance types."""

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


class Providers(Plane):
    """The catalog routes (read-only)."""

    # -- catalog ---------------------------------------------------------------------------------

    def list_providers(self, rq: Rq) -> dict[str, Any]:
        return {"cloud_providers": self.catalog.providers_wire()}

    def _provider_or_fail(self, provider: str) -> None:
        if provider != "all" and not self.catalog.has_provider(provider):
            raise Fail(
                C.CONN_DOES_NOT_EXIST,
                f"Cloud provider '{provider}' does not exist; choose one of {', '.join(self.catalog.provider_ids)} (or 'all').",
            )

    def list_regions(self, rq: Rq) -> dict[str, Any]:
        provider = rq.path["provider"]
        self._provider_or_fail(provider)
        if provider == "all":
            ids = list(
                dict.fromkeys(
                    r for p in self.catalog.provider_ids for r in self.catalog.region_ids(p)
                )
            )
        else:
            ids = self.catalog.region_ids(provider)
        return {"regions": ids, "cloud_regions": [{"id": r} for r in ids]}

    def list_instance_types(self, rq: Rq) -> dict[str, Any]:
        provider, region = rq.path["provider"], rq.path["region"]
        self._provider_or_fail(provider)
        if region != "all":
            known = (
                self.catalog.region_ids(provider)
                if provider != "all"
                else [r for p in self.catalog.provider_ids for r in self.catalog.region_ids(p)]
            )
            if region not in known:
                raise Fail(
                    C.CONN_DOES_NOT_EXIST,
                    f"Region '{region}' does not exist for cloud provider '{provider}'; choose one of {', '.join(known) or '(none)'} (or 'all').",
                )
        return {"instance_types": self.catalog.instance_types_wire(provider, region)}
