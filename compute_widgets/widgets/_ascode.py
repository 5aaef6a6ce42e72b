"""Config as code: the ``%compute`` command and the Clarifai CLI YAML equal to what a wizard made.

The PAT (a cluster's ``key``) never appears in either: it is stripped before anything is shown.
"""

from __future__ import annotations

import shlex
from typing import Any

from ._base import esc


def _q(value: Any) -> str:
    return shlex.quote(str(value))


def _without_key(model: Any) -> Any:
    """A copy with every secret removed (cluster key, nested cluster keys)."""
    update: dict[str, Any] = {}
    if getattr(model, "key", None) is not None:
        update["key"] = None
    cc = getattr(model, "compute_cluster", None)
    if cc is not None and getattr(cc, "key", None) is not None:
        update["compute_cluster"] = cc.model_copy(update={"key": None})
    return model.model_copy(update=update) if update else model


def cluster_command(cc: Any) -> str:
    parts = ["%compute clusters create", _q(cc.id)]
    if cc.cloud_provider is not None and cc.cloud_provider.id:
        parts += ["--provider", _q(cc.cloud_provider.id)]
    if cc.region:
        parts += ["--region", _q(cc.region)]
    if cc.description:
        parts += ["--description", _q(cc.description)]
    return " ".join(parts)


def nodepool_command(cc_id: str, np: Any) -> str:
    parts = ["%compute nodepools create", _q(cc_id), _q(np.id)]
    if np.instance_type_id:
        parts += ["--instance", _q(np.instance_type_id)]
    parts += ["--min", str(np.min_instances), "--max", str(np.max_instances)]
    if np.spot:  # the inverse of NodeCapacityType.for_choice
        parts.append("--spot" if np.on_demand else "--spot-only")
    if np.description:
        parts += ["--description", _q(np.description)]
    return " ".join(parts)


def deployment_command(d: Any) -> str:
    """``%compute deployments create NP DEP --cluster CC --model U/A/M[/V] ...`` (first nodepool)."""
    m = d.worker.model if d.worker is not None else None
    pools = d.nodepools or d.deployment_nodepools or []
    parts = ["%compute deployments create"]
    if pools:
        parts.append(_q(pools[0].id))
    parts.append(_q(d.id))
    if pools and pools[0].compute_cluster is not None:
        parts += ["--cluster", _q(pools[0].compute_cluster.id)]
    if m is not None:
        ref = "/".join(x for x in (m.user_id, m.app_id, m.id) if x)
        if m.model_version is not None and m.model_version.id:
            ref += f"/{m.model_version.id}"
        parts += ["--model", _q(ref)]
    a = d.autoscale_config
    if a is not None:
        parts += ["--min-replicas", str(a.min_replicas), "--max-replicas", str(a.max_replicas)]
    if d.description:
        parts += ["--description", _q(d.description)]
    return " ".join(parts)


def _instance_types_by_id(model: Any) -> Any:
    """A nodepool's instance types as ``{id}`` only, as Clarifai's nodepool config names them,
    without the server's enforced_* bounds (it computes them; a config does not set them).

    The server echoes the whole catalog entry (price string, compute_info, …); in the YAML that
    showed ``price: '25.000000'`` (an API unit) beside the form's $0.90/h.
    """
    types = getattr(model, "instance_types", None)
    if not types:
        return model
    return model.model_copy(
        update={
            "instance_types": [type(t)(id=t.id) for t in types],
            "enforced_min_instances": 0,
            "enforced_max_instances": 0,
        }
    )


def yaml_text(model: Any) -> str:
    """Clarifai CLI YAML for ``model`` (api.config.dump_config: no output fields, no key)."""
    from compute_widgets.api.config import dump_config

    return dump_config(_instance_types_by_id(_without_key(model)))


def ascode_html(command: str, yaml: str) -> str:
    pre = (
        "style='background:var(--jp-layout-color2,#f5f5f5);padding:4px 8px;margin:2px 0;"
        "white-space:pre-wrap;font-size:85%'"
    )
    return (
        "<div class='cw-ascode'><b>As a command</b>"
        f"<pre class='cw-command' {pre}>{esc(command)}</pre>"
        "<b>As Clarifai CLI YAML</b>"
        f"<pre class='cw-yaml' {pre}>{esc(yaml)}</pre></div>"
    )
