"""`%compute recommend CC NP`: right-size a nodepool from its traffic (issue 16).

Thin over ``compute_widgets.rightsize``: read the traffic (the pool's recorded history, a CSV
file or a built-in pattern), search, show the Pareto chart and return the Recommendation
(its HTML is the candidates table with the YAML and `%compute` command of the choice).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from IPython.core.error import UsageError

from compute_widgets.magics.cmd_views import duration

#: the engine's built-in traffic patterns (also what `--traffic <TAB>` completes to)
PATTERNS = ("steady", "diurnal", "bursty", "weekday-weekend")


def target_seconds(text: str) -> float:
    """`2s`, `1500ms`, `0.5` (seconds) -> seconds > 0 (argparse type)."""
    from compute_widgets.api.models import parse_duration

    try:
        seconds = parse_duration(text.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a latency like 2s, 500ms or 1.5, got {text!r}"
        ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the latency target must be > 0, got {text!r}")
    return seconds


def range_text(text: str) -> str:
    """A history window (`7d`, `36h`): checked with the one duration grammar, passed on as typed."""
    duration(text)
    return text.strip().lower()


def build_recommend(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="CC NP", help="cluster and nodepool IDs")
    p.add_argument(
        "--target-p95", type=target_seconds, default=2.0, metavar="LATENCY",
        help="p95 latency to meet, e.g. 2s or 800ms (default 2s)",
    )  # fmt: skip
    p.add_argument(
        "--range", type=range_text, default="7d", metavar="WINDOW",
        help="the recorded history replayed, or a pattern's length (default 7d)",
    )  # fmt: skip
    p.add_argument(
        "--traffic", metavar="FILE|PATTERN",
        help=f"a CSV of request rates or timestamps, or a pattern: {', '.join(PATTERNS)} "
        "(default: the pool's recorded history)",
    )  # fmt: skip


def traffic_source(args: argparse.Namespace, cc: str, np_id: str) -> str:
    """What `traffic_from` reads: the pattern, the file, or "cc/np" (its history)."""
    given = args.traffic
    if given is None:
        return f"{cc}/{np_id}"
    if given.lower() in PATTERNS or os.path.isfile(given):
        return given
    raise UsageError(
        f"--traffic: {given!r} is neither a file nor a built-in pattern; give a CSV file's path "
        f"or one of {', '.join(PATTERNS)}"
    )


def run_recommend(magics: Any, args: argparse.Namespace) -> Any:
    """Right-size a nodepool: `CC NP [--target-p95 2s] [--range 7d] [--traffic FILE|PATTERN]`."""
    from IPython.display import display

    from compute_widgets.magics.cmd_nodepools import split_ids
    from compute_widgets.magics.progress import Progress

    cc, np_id = split_ids(magics, args.ids, "`recommend`")
    client = magics.get_client()
    progress = Progress(total=3, enabled=magics.show_progress)
    source = traffic_source(args, cc, np_id)
    from compute_widgets import charts, rightsize

    progress.step("reading the traffic " + (f"of {source}" if args.traffic else "recorded"))
    nodepool = client.get_nodepool(cc, np_id)  # a 404 names the pool before any search
    try:
        traffic = rightsize.traffic_from(source, client=client, range=args.range)
        progress.step(f"searching instance types, node ranges and capacity for {cc}/{np_id}")
        rec = rightsize.recommend(
            nodepool, traffic=traffic, target_p95=args.target_p95, client=client
        )
    except rightsize.RightsizeError as exc:  # every engine error is one line naming its cause
        traffic_error = isinstance(exc, rightsize.TrafficError)
        flag = ("--traffic: " if args.traffic else "--range: ") if traffic_error else ""
        raise UsageError(f"{flag}{exc}") from None
    best = rec.best
    progress.finish(
        f"{len(rec.candidates)} candidates simulated, {len(rec.front)} on the front; "
        + ("recommended: " + _one_line(best) if best is not None else "none meets the target")
    )
    display(charts.pareto_chart(rec, title=f"Right-sizing {cc}/{np_id}"))
    return rec


def _one_line(best: Any) -> str:
    """The choice's command when it is one line, else its settings (the cell is in the HTML)."""
    command = best.command
    if "\n" not in command:
        return command
    return f"{best.settings}: run the %%compute --apply cell shown with the result"
