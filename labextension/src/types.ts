/**
 * Shapes of the server extension's JSON replies (sgl_notebook/jupyter_server/).
 * Field names mirror the Python side exactly.
 */

/** One point of a server's generation-throughput history: [unix seconds, token/s]. */
export type ThroughputPoint = [number, number];

/** Latest scheduler stats of one server, parsed from its log. */
export interface IServerStats {
  gen_throughput: number | null;
  running_req: number | null;
  queue_req: number | null;
  token_usage: number | null;
  cache_hit_rate: number | null;
  /** Unix seconds of the newest stats line read, or null when none was seen yet. */
  updated_at: number | null;
  history: ThroughputPoint[];
}

/** One server of the registry, as `GET servers` lists it. */
export interface IServerInfo {
  id: string;
  name: string;
  engine: string;
  model: string;
  url: string;
  /** "running" while its process is alive, "exited" once it is gone. */
  status: 'running' | 'exited';
  alive: boolean;
  pid: number;
  started_at: number;
  uptime_s: number | null;
  managed: boolean;
  owner_kernel_id: string | null;
  /** Notebook path of the owning kernel's session, when this Jupyter server runs it. */
  owner_notebook: string | null;
  /** True when the kernel that launched the server is gone. */
  orphaned: boolean;
  stats: IServerStats;
  /** A router's workers (record ids), listed under it. */
  worker_ids?: string[];
  /** On a worker: the router that launched it (stopping that router stops it). */
  router_id?: string | null;
}

export interface IServersReply {
  servers: IServerInfo[];
  /** Unix seconds on the server when the reply was built. */
  now: number;
}

export interface ILogsReply {
  id: string;
  lines: string[];
  /** Access lines of the toolkit's own polling (GET /metrics, /health...) left out. */
  hidden_polling?: number;
}

export interface IStopReply {
  id: string;
  stopped: boolean;
}
