// The panel's only door to the backends: the Jupyter server's /compute-widgets/api/ endpoints
// (compute_widgets/lab/handlers.py documents the shapes). Tokens never come here.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IBackend {
  name: string;
  kind: 'local' | 'context';
  label: string;
  user_id: string;
  api_base: string | null;
  usable: boolean;
  problem: string | null;
  connect: string; // the line a notebook runs to reach this backend
}

export interface IContexts {
  current: string;
  backends: IBackend[];
  warning: string | null;
}

export interface INodes {
  spot: number;
  on_demand: number;
}

export interface INodepool {
  id: string;
  cluster_id: string;
  description: string;
  status: string;
  status_description: string;
  instance_type: string;
  capacity: string;
  min_instances: number;
  max_instances: number;
  node_count: number;
  nodes: INodes | null; // null: the split is unknown
  price_per_hour: number | null;
  cost_per_hour: number | null;
}

export interface ICluster {
  id: string;
  description: string;
  provider: string;
  provider_label: string;
  region: string;
  node_count: number;
  cost_per_hour: number;
  nodepools: INodepool[];
}

export interface IOverview {
  backend: string;
  clusters: ICluster[];
  totals: {
    clusters: number;
    nodepools: number;
    node_count: number;
    cost_per_hour: number;
  };
}

/** GET compute-widgets/api/<path>; a failure throws an Error carrying the server's one line. */
export async function requestAPI<T>(
  path: string,
  params: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const query = new URLSearchParams(params).toString();
  const url =
    URLExt.join(settings.baseUrl, 'compute-widgets', 'api', path) +
    (query ? `?${query}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, {}, settings);
  } catch (error) {
    throw new Error(`the Jupyter server did not answer (${error})`);
  }
  let body: any = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const line = body && body.error ? body.error : `HTTP ${response.status}`;
    throw new Error(line);
  }
  return body as T;
}
