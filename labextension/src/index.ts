// compute-widgets' JupyterLab extension: a *Compute* panel in the left sidebar (the layout of
// dask-labextension: a sidebar widget, commands that inject code into the active notebook, and
// drag-and-drop of cells). Everything it shows comes from the Jupyter server's
// /compute-widgets/api/ endpoints; the backend tokens stay on the server.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { chartCode, pageCode, plannerCode, WIZARD_CODE } from './code';
import { CommandIDs } from './commands';
import { insertAndRun } from './insert';
import { ComputePanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="3" width="18" height="5" rx="1"/>
    <rect x="3" y="10" width="18" height="5" rx="1"/>
    <rect x="3" y="17" width="18" height="4" rx="1"/>
  </g>
</svg>`;

export const computeIcon = new LabIcon({ name: 'compute-widgets:compute', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'compute-widgets:panel',
  description: 'A Compute panel: clusters and nodepools of the chosen Clarifai backend, live.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new ComputePanel(app.commands, tracker);
    panel.title.icon = computeIcon;
    app.shell.add(panel, 'left', { rank: 250 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    app.commands.addCommand(CommandIDs.newCluster, {
      label: 'New cluster…',
      caption: 'Insert and run cw.ClusterWizard() in the active notebook',
      execute: () => insertAndRun(tracker, WIZARD_CODE, panel.connectLine)
    });
    // a nodepool's menu: each command inserts and runs its code for (args.cluster, args.nodepool)
    const forPool =
      (code: (cluster: string, nodepool: string) => string) => (args: ReadonlyPartialJSONObject) =>
        insertAndRun(
          tracker,
          code(String(args.cluster ?? ''), String(args.nodepool ?? '')),
          panel.connectLine
        );
    app.commands.addCommand(CommandIDs.insertChart, {
      label: 'Insert chart',
      caption: 'Insert and run %compute chart for this nodepool',
      execute: forPool(chartCode)
    });
    app.commands.addCommand(CommandIDs.insertPlanner, {
      label: 'Insert Planner',
      caption: 'Insert and run the what-if Planner for this nodepool',
      execute: forPool(plannerCode)
    });
    app.commands.addCommand(CommandIDs.insertPage, {
      label: 'Insert browser page',
      caption: "Insert and run the ComputeBrowser at this nodepool's page",
      execute: forPool(pageCode)
    });
    app.commands.addCommand(CommandIDs.open, {
      label: 'Show the Compute panel',
      execute: () => app.shell.activateById(panel.id)
    });
  }
};

export default plugin;
