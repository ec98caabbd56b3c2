/**
 * A router's workers listed right under it (pure; the sidebar indents them).
 */
import { IServerInfo } from './types';

export interface INestedServer {
  info: IServerInfo;
  /** 0: a server or a router; 1: a worker shown under its router. */
  depth: number;
}

/**
 * Servers in display order: each router followed by its workers (in the router's order);
 * workers whose router is not listed stay at the top level.
 */
export function nestServers(servers: readonly IServerInfo[]): INestedServer[] {
  const byId = new Map(servers.map(info => [info.id, info] as [string, IServerInfo]));
  const nested = new Set<string>();
  for (const info of servers) {
    for (const id of info.worker_ids ?? []) {
      if (byId.has(id)) {
        nested.add(id);
      }
    }
  }
  const rows: INestedServer[] = [];
  for (const info of servers) {
    if (nested.has(info.id)) {
      continue;
    }
    rows.push({ info, depth: 0 });
    for (const id of info.worker_ids ?? []) {
      const worker = byId.get(id);
      if (worker) {
        rows.push({ info: worker, depth: 1 });
      }
    }
  }
  return rows;
}
