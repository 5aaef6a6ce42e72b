"""ipywidgets views over the api/ client: the creation wizards, the browser and the planner.

Importing this package imports ipywidgets (the top-level ``compute_widgets`` only imports it
on first use of one of these names).

    ClusterWizard(client=None)             cluster, then its first nodepool
    NodepoolWizard(cluster, client=None)   a nodepool in a cluster (ComputeCluster or ID)
    DeploymentWizard(nodepool, client=None)  a model on a nodepool (Nodepool, (cc, np) or "cc/np")
    ComputeBrowser(client=None)            clusters -> cluster page -> nodepool page
    Planner(nodepool=None, client=None)    what-if simulation of a nodepool's settings

The thing a widget is about comes first; ``client`` (a ComputeClient; None means
``settings.get_client()``) is the last positional parameter and always accepted as ``client=``.
A client passed where the subject goes is a TypeError naming ``client=`` (never guessed).

Every widget runs its calls through a Runner: as asyncio tasks inside a running loop
(``await widget.wait()`` awaits them), synchronously otherwise.
"""

from .browser import ComputeBrowser
from .planner import Planner
from .wizard import ClusterWizard, DeploymentWizard, NodepoolWizard

__all__ = ["ClusterWizard", "ComputeBrowser", "DeploymentWizard", "NodepoolWizard", "Planner"]
