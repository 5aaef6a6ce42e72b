// The code the panel puts into notebooks: one place, so the menu, the buttons and the drag
// insert the same lines (the magic's syntax is compute_widgets/magics/cmd_views.py's).

/** `%compute chart CC NP`: the nodepool's node counts and scaling events over the last day. */
export function chartCode(cluster: string, nodepool: string): string {
  return `%compute chart ${cluster} ${nodepool} --range 1d --kind scaling`;
}

export function plannerCode(cluster: string, nodepool: string): string {
  return `cw.Planner((${pyStr(cluster)}, ${pyStr(nodepool)}))`;
}

export function pageCode(cluster: string, nodepool: string): string {
  return `cw.ComputeBrowser(nodepool=(${pyStr(cluster)}, ${pyStr(nodepool)}))`;
}

export const WIZARD_CODE = 'cw.ClusterWizard()';

/** A Python string literal (IDs are letters, digits, - and _; quoted anyway). */
export function pyStr(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * The setup lines a notebook still lacks before `code` can run: the import, the magics
 * (for a `%compute` line) and a connection to the panel's backend. Empty when all are there.
 */
export function setupLines(
  sources: string[],
  code: string,
  connect: string
): string[] {
  const all = sources.join('\n');
  const lines: string[] = [];
  const needsMagic = code.trimStart().startsWith('%compute');
  if (!/^\s*import compute_widgets as cw\b/m.test(all)) {
    lines.push('import compute_widgets as cw');
  }
  if (needsMagic && !/^\s*%load_ext compute_widgets\b/m.test(all)) {
    lines.push('%load_ext compute_widgets');
  }
  if (!/cw\.connect\(|%compute connect\b/.test(all)) {
    lines.push(connect);
  }
  return lines;
}
