"""`%compute` and `%%compute`: Clarifai CLI verbs and YAML configs in a notebook.

`%load_ext compute_widgets` calls `load_ipython_extension`. Loading imports only IPython,
traitlets and argparse: the client, pandas, widgets and charts load when a subcommand runs.
"""

from __future__ import annotations

from typing import Any

_MAGIC_NAME = "compute"


def load_ipython_extension(ipython: Any) -> None:
    """Register `%compute`/`%%compute` and their tab completion on `ipython`."""
    from compute_widgets.magics.completion import make_matcher
    from compute_widgets.magics.magic import ComputeMagics

    if "ComputeMagics" in ipython.magics_manager.registry:  # %reload_ext: start clean
        unload_ipython_extension(ipython)
    magics = ComputeMagics(shell=ipython)
    ipython.register_magics(magics)
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        magics._matcher = make_matcher(magics)
        completer.custom_matchers.append(magics._matcher)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext compute_widgets`: stop monitors, close our clients, remove the magics."""
    magics = ipython.magics_manager.registry.pop("ComputeMagics", None)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop(_MAGIC_NAME, None)
    if magics is None:
        return
    magics.close()
    completer = getattr(ipython, "Completer", None)
    matcher = getattr(magics, "_matcher", None)
    if completer is not None and matcher in completer.custom_matchers:
        completer.custom_matchers.remove(matcher)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)


__all__ = ["load_ipython_extension", "unload_ipython_extension"]
