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

interface IPoolArgs {
  cluster: string;
  nodepool: string;
}

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

    const pool = (args: any): IPoolArgs => ({
      cluster: String(args.cluster ?? ''),
      nodepool: String(args.nodepool ?? '')
    });
    app.commands.addCommand(CommandIDs.newCluster, {
      label: 'New cluster…',
      caption: 'Insert and run cw.ClusterWizard() in the active notebook',
      execute: () => insertAndRun(tracker, WIZARD_CODE, panel.connectLine)
    });
    app.commands.addCommand(CommandIDs.insertChart, {
      label: 'Insert chart',
      caption: 'Insert and run %compute chart for this nodepool',
      execute: args => {
        const p = pool(args);
        return insertAndRun(tracker, chartCode(p.cluster, p.nodepool), panel.connectLine);
      }
    });
    app.commands.addCommand(CommandIDs.insertPlanner, {
      label: 'Insert Planner',
      caption: 'Insert and run the what-if Planner for this nodepool',
      execute: args => {
        const p = pool(args);
        return insertAndRun(tracker, plannerCode(p.cluster, p.nodepool), panel.connectLine);
      }
    });
    app.commands.addCommand(CommandIDs.insertPage, {
      label: 'Insert browser page',
      caption: "Insert and run the ComputeBrowser at this nodepool's page",
      execute: args => {
        const p = pool(args);
        return insertAndRun(tracker, pageCode(p.cluster, p.nodepool), panel.connectLine);
      }
    });
    app.commands.addCommand(CommandIDs.open, {
      label: 'Show the Compute panel',
      execute: () => app.shell.activateById(panel.id)
    });
  }
};

export default plugin;
