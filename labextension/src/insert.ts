// Putting the panel's code into the active notebook: below the active cell, with the setup
// cell it still lacks in front, then run (as dask-labextension's "inject client code").
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

import { setupLines } from './code';

/** The cells (nbformat JSON) that `code` needs in a notebook whose cells hold `sources`. */
export function cellsFor(
  sources: string[],
  code: string,
  connect: string
): { cell_type: 'code'; source: string; metadata: Record<string, never> }[] {
  const setup = setupLines(sources, code, connect);
  const cells = setup.length ? [setup.join('\n'), code] : [code];
  return cells.map(source => ({ cell_type: 'code' as const, source, metadata: {} }));
}

export function notebookSources(tracker: INotebookTracker): string[] {
  const panel = tracker.currentWidget;
  if (!panel || !panel.model) {
    return [];
  }
  return panel.model.sharedModel.cells.map(cell => cell.getSource());
}

/** Insert `code` (and its setup) below the active cell of the current notebook and run it. */
export async function insertAndRun(
  tracker: INotebookTracker,
  code: string,
  connect: string
): Promise<boolean> {
  const panel = tracker.currentWidget;
  if (!panel || !panel.model) {
    Notification.warning('Open a notebook first: the Compute panel inserts its cells there.', {
      autoClose: 5000
    });
    return false;
  }
  await panel.context.ready;
  const notebook = panel.content;
  const cells = cellsFor(notebookSources(tracker), code, connect);
  const at = notebook.activeCellIndex < 0 ? 0 : notebook.activeCellIndex + 1;
  // an empty active cell (a new notebook's first) is replaced, not left above
  const active = notebook.activeCell;
  const replace = active !== null && active.model.sharedModel.getSource().trim() === '';
  const index = replace ? at - 1 : at;
  if (replace) {
    panel.model.sharedModel.deleteCell(index);
  }
  panel.model.sharedModel.insertCells(index, cells);
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  notebook.extendContiguousSelectionTo(index + cells.length - 1);
  await NotebookActions.run(notebook, panel.sessionContext);
  notebook.activeCellIndex = index + cells.length - 1;
  return true;
}
