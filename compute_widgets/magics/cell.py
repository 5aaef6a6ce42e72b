"""`%%compute [--dry-run | --apply] [--cluster CC]`: Clarifai CLI YAML in a cell.

A thin caller of `api.config.plan_config` / `apply_config`, where the create-or-update rules
live (dependency order, parent resolution, everything checked before anything is written).
This module parses the line, words the problems for the magic, shows progress and the result
table, and turns errors into one-line UsageErrors.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.parsing import HelpShown, UsageParser, split_line


def cell_parser() -> UsageParser:
    p = UsageParser(prog="%%compute", description="Create (default), validate or apply Clarifai CLI YAML.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="validate only; report what would change")
    mode.add_argument("--apply", action="store_true", help="create, or update what already exists")
    p.add_argument("--cluster", metavar="CC", help="cluster for nodepools that name none")
    return p


def run_cell(magics: Any, line: str, cell: str) -> Any:
    from compute_widgets.api.config import Wording, plan_config

    try:
        opts = cell_parser().parse_args(split_line(line))
    except HelpShown:
        return None
    client = magics.get_client()
    plan = plan_config(
        client,
        cell,
        update=opts.apply or opts.dry_run,
        cluster=opts.cluster,
        default_cluster=magics.default_cluster,
        wording=Wording(
            text="cell",
            update="%%compute --apply",
            cluster="`%%compute --cluster CC`, or `%config ComputeMagics.default_cluster`",
            retry="fix the cell and re-run it with --apply",
        ),
    )
    if plan.problems:
        raise UsageError(
            f"nothing was created, {len(plan.problems)} problem(s): " + "; ".join(plan.problems)
        )
    if opts.dry_run:
        return report(plan.items, [f"would {i.action}" for i in plan.items])
    return apply(magics, client, plan)


def apply(magics: Any, client: Any, plan: Any) -> Any:
    from compute_widgets.api.config import ApplyError, apply_config
    from compute_widgets.magics.errors import to_usage_error
    from compute_widgets.magics.progress import Progress

    progress = Progress(total=len(plan.items), enabled=magics.show_progress and len(plan.items) > 1)
    try:
        applied = apply_config(client, plan, on_step=progress.step)
    except ApplyError as exc:
        progress.update(f"failed at {exc.item.name}")
        usage = to_usage_error(exc.cause, client)
        raise UsageError(exc.message(str(usage or exc.cause))) from None
    finally:
        magics.invalidate_ids()
    progress.finish(f"done: {len(plan.items)} document(s)")
    return report(plan.items, [a.action for a in applied])


def report(items: list[Any], actions: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "kind": [i.kind for i in items],
            "id": [i.model.id for i in items],
            "cluster": [i.cluster for i in items],
            "action": actions,
        }
    )
