"""`%compute list-instances|li [--cloud] [--region] [--gpu] [--min-gpus N] [--min-gpu-mem GiB]`."""

from __future__ import annotations

import argparse
from typing import Any

from compute_widgets.magics.parsing import non_negative_float, positive_int


def build_list_instances(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cloud", metavar="PROVIDER", help="e.g. aws, gcp, azure (default: all)")
    p.add_argument("--region", help="e.g. us-east-1 (default: all)")
    p.add_argument("--gpu", action="store_true", help="GPU instance types only")
    p.add_argument("--min-gpus", type=positive_int, help="at least N accelerators")
    p.add_argument("--min-gpu-mem", type=non_negative_float, metavar="GiB", help="at least GiB per GPU")


def run_list_instances(magics: Any, args: argparse.Namespace) -> Any:
    """Instance types offered, with filters (a DataFrame)."""
    from compute_widgets.api.client import ResultList
    from compute_widgets.api.models import InstanceType

    types = magics.get_client().list_instance_types(args.cloud or "all", args.region or "all")
    picked = [it for it in types if keep(it, args)]
    return ResultList(picked, InstanceType).to_dataframe()


def keep(it: Any, args: argparse.Namespace) -> bool:
    gpus = it.compute_info.num_accelerators if it.compute_info else 0
    if args.gpu and not it.is_gpu:
        return False
    if args.min_gpus is not None and gpus < args.min_gpus:
        return False
    return not (args.min_gpu_mem is not None and it.gpu_memory_gib < args.min_gpu_mem)
