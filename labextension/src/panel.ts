// The Compute panel: backend picker, clusters -> nodepools with status, nodes by capacity type
// and $/h, polled while the panel is visible. Plain DOM over JupyterLab's CSS variables and
// classes, so it follows the light and dark themes.
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { addIcon, ellipsesIcon, refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { MimeData } from '@lumino/coreutils';
import { Drag } from '@lumino/dragdrop';
import { Message } from '@lumino/messaging';
import { Menu, Widget } from '@lumino/widgets';

import {
  IBackend,
  ICluster,
  IContexts,
  INodepool,
  IOverview,
  requestAPI
} from './api';
import { chartCode } from './code';
import { cellsFor, notebookSources } from './insert';
import { CommandIDs } from './commands';

export const POLL_MS = 3000; // while visible; nothing is polled while the panel is hidden
const JUPYTER_CELL_MIME = 'application/vnd.jupyter.cells'; // what a notebook accepts on drop
const DRAG_THRESHOLD = 5; // px before a press becomes a drag

export function money(value: number | null): string {
  if (value === null) {
    return 'price on request';
  }
  return value >= 100 ? `$${value.toFixed(0)}/h` : `$${value.toFixed(2)}/h`;
}

export function nodesText(np: INodepool): string {
  const total = `${np.node_count} ${np.node_count === 1 ? 'node' : 'nodes'}`;
  if (np.nodes === null) {
    return total;
  }
  const parts: string[] = [];
  if (np.nodes.spot) {
    parts.push(`${np.nodes.spot} spot`);
  }
  if (np.nodes.on_demand) {
    parts.push(`${np.nodes.on_demand} on-demand`);
  }
  return parts.length ? `${total}: ${parts.join(' · ')}` : total;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export class ComputePanel extends Widget {
  constructor(
    private readonly commands: CommandRegistry,
    private readonly tracker: INotebookTracker
  ) {
    super();
    this.id = 'compute-widgets-panel';
    this.addClass('cw-ComputePanel');
    this.title.caption = 'Compute';

    const header = el('div', 'cw-ComputePanel-header');
    header.appendChild(el('h2', 'cw-ComputePanel-title', 'Compute'));
    const tools = el('div', 'cw-ComputePanel-tools');
    tools.appendChild(
      this.button('New cluster…', addIcon, 'cw-ComputePanel-new', () =>
        this.commands.execute(CommandIDs.newCluster)
      )
    );
    tools.appendChild(
      this.button('', refreshIcon, 'cw-ComputePanel-refresh', () => this.reload(), 'Refresh')
    );
    header.appendChild(tools);
    this.node.appendChild(header);

    const pick = el('label', 'cw-ComputePanel-backend');
    pick.appendChild(el('span', 'cw-ComputePanel-label', 'Backend'));
    this.picker = el('select', 'jp-mod-styled cw-ComputePanel-picker');
    this.picker.setAttribute('aria-label', 'Backend');
    this.picker.addEventListener('change', () => {
      this.backendName = this.picker.value;
      this.picked = true;
      this.body.replaceChildren();
      this.shown = '';
      void this.refresh();
    });
    pick.appendChild(this.picker);
    this.node.appendChild(pick);

    this.message = el('div', 'cw-ComputePanel-message');
    this.message.setAttribute('role', 'status');
    this.node.appendChild(this.message);
    this.totals = el('div', 'cw-ComputePanel-totals');
    this.node.appendChild(this.totals);
    this.body = el('div', 'cw-ComputePanel-body');
    this.node.appendChild(this.body);

    this.menu = new Menu({ commands });
    this.menu.addClass('cw-ComputePanel-menu');
  }

  /** The backend the panel shows, and the connect() line the inserted cells use. */
  get backend(): IBackend | undefined {
    return this.backends.find(b => b.name === this.backendName);
  }

  get connectLine(): string {
    return this.backend?.connect ?? 'cw.connect(local=True)';
  }

  /** One refresh: contexts (first time), then the chosen backend's clusters. */
  async refresh(): Promise<void> {
    if (this.inflight) {
      return this.inflight;
    }
    this.inflight = this.load().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** The refresh button: the backends too (a context added with `clarifai login` shows up). */
  async reload(): Promise<void> {
    await this.inflight;
    this.contexts = null;
    return this.refresh();
  }

  protected onAfterShow(msg: Message): void {
    void this.refresh();
    this.startPolling();
  }

  protected onAfterHide(msg: Message): void {
    this.stopPolling();
  }

  protected onAfterAttach(msg: Message): void {
    if (this.isVisible) {
      void this.refresh();
      this.startPolling();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this.stopPolling();
  }

  dispose(): void {
    this.stopPolling();
    this.menu.dispose();
    super.dispose();
  }

  private startPolling(): void {
    if (this.timer === null) {
      this.timer = window.setInterval(() => {
        if (this.isVisible) {
          void this.refresh();
        }
      }, POLL_MS);
    }
  }

  private stopPolling(): void {
    if (this.timer !== null) {
      window.clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async load(): Promise<void> {
    try {
      if (!this.contexts) {
        this.contexts = await requestAPI<IContexts>('contexts');
        this.backends = this.contexts.backends;
        // keep the user's pick across a reload while it is still offered
        if (!this.picked || !this.backends.some(b => b.name === this.backendName && b.usable)) {
          this.backendName = this.contexts.current;
        }
        this.renderPicker();
      }
      const name = this.backendName;
      const data = await requestAPI<IOverview>('clusters', { backend: name });
      if (name !== this.backendName) {
        return; // the user picked another backend meanwhile
      }
      this.render(data);
      this.showMessage(this.contexts.warning, 'warn');
    } catch (error) {
      this.showMessage(`${(error as Error).message}`, 'error');
    }
  }

  private renderPicker(): void {
    this.picker.replaceChildren(
      ...this.backends.map(b => {
        const option = document.createElement('option');
        option.value = b.name;
        const who = b.kind === 'local' ? b.label : `${b.label} (${b.user_id})`;
        option.textContent = b.usable ? who : `${who}: not usable`;
        option.title = b.problem ?? (b.api_base ? `${b.user_id} at ${b.api_base}` : who);
        option.disabled = !b.usable;
        return option;
      })
    );
    this.picker.value = this.backendName;
  }

  private showMessage(text: string | null, kind: 'warn' | 'error'): void {
    this.message.textContent = text ?? '';
    this.message.dataset.kind = text ? kind : '';
  }

  // A poll whose answer is what the panel already shows leaves the DOM alone: a press that is
  // becoming a drag, a focused button, a screen reader's place survive. When it changes, the
  // focus goes back to the same control of the same nodepool.
  private render(data: IOverview): void {
    const shown = JSON.stringify(data);
    if (shown === this.shown) {
      return;
    }
    this.shown = shown;
    const focus = this.focusKey();
    this.draw(data);
    this.restoreFocus(focus);
  }

  /** The focused control inside a nodepool row, as a selector that finds it after a redraw. */
  private focusKey(): string | null {
    const active = document.activeElement;
    const row = active && this.body.contains(active) ? active.closest('li') : null;
    if (!active || !row) {
      return null;
    }
    const control = Array.from(active.classList).find(
      c => c.startsWith('cw-ComputePanel-') && c !== 'cw-ComputePanel-button'
    );
    const key = (name: string) => `[data-${name}="${CSS.escape(row.dataset[name] ?? '')}"]`;
    const where = `li${key('cluster')}${key('nodepool')}`;
    return control ? `${where} .${control}` : null;
  }

  private restoreFocus(selector: string | null): void {
    if (selector) {
      (this.body.querySelector(selector) as HTMLElement | null)?.focus();
    }
  }

  private draw(data: IOverview): void {
    const t = data.totals;
    this.totals.textContent =
      `${t.clusters} ${t.clusters === 1 ? 'cluster' : 'clusters'} · ` +
      `${t.nodepools} ${t.nodepools === 1 ? 'nodepool' : 'nodepools'} · ` +
      `${t.node_count} ${t.node_count === 1 ? 'node' : 'nodes'} · ${money(t.cost_per_hour)}`;
    if (!data.clusters.length) {
      this.body.replaceChildren(
        el('p', 'cw-ComputePanel-empty', 'No clusters yet: New cluster… opens the wizard.')
      );
      return;
    }
    this.body.replaceChildren(...data.clusters.map(c => this.renderCluster(c)));
  }

  private renderCluster(c: ICluster): HTMLElement {
    const section = el('section', 'cw-ComputePanel-cluster');
    section.dataset.cluster = c.id;
    const head = el('div', 'cw-ComputePanel-clusterHead');
    head.appendChild(el('span', 'cw-ComputePanel-clusterId', c.id));
    head.appendChild(
      el('span', 'cw-ComputePanel-where', `${c.provider_label || c.provider} ${c.region}`)
    );
    head.appendChild(el('span', 'cw-ComputePanel-cost', money(c.cost_per_hour)));
    head.title = c.description || c.id;
    section.appendChild(head);
    const list = el('ul', 'cw-ComputePanel-nodepools');
    for (const np of c.nodepools) {
      list.appendChild(this.renderNodepool(np));
    }
    if (!c.nodepools.length) {
      list.appendChild(el('li', 'cw-ComputePanel-none', 'no nodepools'));
    }
    section.appendChild(list);
    return section;
  }

  private renderNodepool(np: INodepool): HTMLElement {
    const row = el('li', 'cw-ComputePanel-nodepool');
    row.dataset.cluster = np.cluster_id;
    row.dataset.nodepool = np.id;
    row.title =
      `${np.cluster_id}/${np.id}: ${np.status}` +
      (np.status_description ? ` (${np.status_description})` : '') +
      `; drag into a notebook for its chart`;
    const line1 = el('div', 'cw-ComputePanel-npLine');
    const dot = el('span', 'cw-ComputePanel-dot');
    dot.dataset.status = np.status;
    line1.appendChild(dot);
    line1.appendChild(el('span', 'cw-ComputePanel-npId', np.id));
    line1.appendChild(el('span', 'cw-ComputePanel-status', np.status));
    const more = this.button('', ellipsesIcon, 'cw-ComputePanel-more', () => {
      const box = more.getBoundingClientRect();
      this.openMenu(np, box.left, box.bottom);
    }, `Actions for ${np.id}`);
    line1.appendChild(more);
    row.appendChild(line1);
    const line2 = el('div', 'cw-ComputePanel-npLine cw-ComputePanel-npInfo');
    line2.appendChild(el('span', 'cw-ComputePanel-nodes', nodesText(np)));
    line2.appendChild(el('span', 'cw-ComputePanel-cost', money(np.cost_per_hour)));
    row.appendChild(line2);
    row.appendChild(
      el(
        'div',
        'cw-ComputePanel-npInfo cw-ComputePanel-type',
        `${np.instance_type} · ${np.capacity} · ${np.min_instances}–${np.max_instances}`
      )
    );
    row.addEventListener('mousedown', event => this.onPress(event, np));
    row.addEventListener('contextmenu', event => {
      event.preventDefault();
      this.openMenu(np, event.clientX, event.clientY);
    });
    return row;
  }

  private openMenu(np: INodepool, x: number, y: number): void {
    const args = { cluster: np.cluster_id, nodepool: np.id };
    this.menu.clearItems();
    this.menu.addItem({ command: CommandIDs.insertChart, args });
    this.menu.addItem({ command: CommandIDs.insertPlanner, args });
    this.menu.addItem({ command: CommandIDs.insertPage, args });
    this.menu.open(x, y);
  }

  // Dragging a nodepool: the notebook's own drop handler takes cells in JUPYTER_CELL_MIME
  // (copied, not run), as dask-labextension drags its dashboards.
  private onPress(event: MouseEvent, np: INodepool): void {
    if (event.button !== 0 || (event.target as HTMLElement).closest('button')) {
      return;
    }
    const x0 = event.clientX;
    const y0 = event.clientY;
    const move = (e: MouseEvent) => {
      if (Math.abs(e.clientX - x0) + Math.abs(e.clientY - y0) < DRAG_THRESHOLD) {
        return;
      }
      stop();
      this.startDrag(np, e.clientX, e.clientY);
    };
    const stop = () => {
      document.removeEventListener('mousemove', move, true);
      document.removeEventListener('mouseup', stop, true);
    };
    document.addEventListener('mousemove', move, true);
    document.addEventListener('mouseup', stop, true);
  }

  private startDrag(np: INodepool, x: number, y: number): void {
    const code = chartCode(np.cluster_id, np.id);
    const mimeData = new MimeData();
    mimeData.setData(JUPYTER_CELL_MIME, cellsFor(notebookSources(this.tracker), code, this.connectLine));
    mimeData.setData('text/plain', code);
    const image = el('div', 'cw-ComputePanel-dragImage', `${np.cluster_id}/${np.id} chart`);
    const drag = new Drag({
      mimeData,
      dragImage: image,
      proposedAction: 'copy',
      supportedActions: 'copy',
      source: this
    });
    void drag.start(x, y).then(action => {
      if (action === 'none') {
        Notification.info('Drop a nodepool on a notebook to insert its chart cell.', {
          autoClose: 3000
        });
      }
    });
  }

  private button(
    label: string,
    icon: typeof addIcon,
    className: string,
    onClick: () => unknown,
    title?: string
  ): HTMLButtonElement {
    const b = el('button', `jp-Button jp-mod-minimal cw-ComputePanel-button ${className}`);
    b.type = 'button';
    const holder = el('span', 'cw-ComputePanel-icon');
    icon.element({ container: holder });
    b.appendChild(holder);
    if (label) {
      b.appendChild(el('span', 'cw-ComputePanel-buttonLabel', label));
    }
    b.title = title ?? label;
    b.setAttribute('aria-label', title ?? label);
    b.addEventListener('click', () => void onClick());
    return b;
  }

  private backends: IBackend[] = [];
  private backendName = 'local';
  private picked = false; // the user chose a backend in the picker
  private contexts: IContexts | null = null;
  private inflight: Promise<void> | null = null;
  private shown = ''; // the answer the body shows, as JSON
  private timer: number | null = null;
  private readonly picker: HTMLSelectElement;
  private readonly message: HTMLElement;
  private readonly totals: HTMLElement;
  private readonly body: HTMLElement;
  private readonly menu: Menu;
}
