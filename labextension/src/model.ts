/**
 * ServersModel: the one poller of `GET sgl-notebook/api/servers`, shared by the sidebar and the
 * status bar. It backs off when the server extension fails and stands by while the page is hidden.
 */

import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { requestAPI } from './request';
import { ILogsReply, IServerInfo, IServersReply, IStopReply } from './types';

/**
 * How often the list is refreshed while the page is visible (ms). Each refresh also asks every
 * live server's load report (at most once a second, server side), so an idle server reads idle
 * within two seconds.
 */
export const POLL_INTERVAL_MS = 1000;
/** Longest wait between retries once the server extension keeps failing (ms). */
export const POLL_MAX_INTERVAL_MS = 30000;

export class ServersModel {
  constructor(options: { interval?: number } = {}) {
    this._poll = new Poll({
      auto: true,
      factory: () => this.refresh(),
      frequency: {
        interval: options.interval ?? POLL_INTERVAL_MS,
        backoff: true,
        max: POLL_MAX_INTERVAL_MS
      },
      name: 'sgl-notebook:servers',
      standby: 'when-hidden'
    });
  }

  /** Emitted after every successful or failed refresh. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get servers(): readonly IServerInfo[] {
    return this._servers;
  }

  /** The last refresh error, or null when the last refresh succeeded. */
  get error(): string | null {
    return this._error;
  }

  /** True once the first reply (or error) has arrived. */
  get loaded(): boolean {
    return this._loaded;
  }

  get runningCount(): number {
    return this._servers.filter(s => s.alive).length;
  }

  /** Sum of the current generation throughput of the running servers (token/s). */
  get totalThroughput(): number {
    return this._servers
      .filter(s => s.alive)
      .reduce((sum, s) => sum + (s.stats.gen_throughput ?? 0), 0);
  }

  /** Fetch the list now. Rejections make the Poll back off. */
  async refresh(): Promise<void> {
    try {
      const reply = await requestAPI<IServersReply>('servers');
      this._servers = reply.servers;
      this._error = null;
    } catch (error) {
      this._error = String((error as Error).message ?? error);
      throw error;
    } finally {
      this._loaded = true;
      this._changed.emit();
    }
  }

  /** Ask for a refresh soon (after a stop, or when the panel is shown). */
  refreshSoon(): void {
    void this._poll.refresh();
  }

  /** The last `n` lines of a server's log. */
  async logs(id: string, n = 40): Promise<string[]> {
    return (await this.logTail(id, n)).lines;
  }

  /** The log tail without the toolkit's own polling lines, and how many were left out. */
  async logTail(id: string, n = 40): Promise<ILogsReply> {
    return requestAPI<ILogsReply>(`servers/${encodeURIComponent(id)}/logs?n=${n}`);
  }

  /** Stop a server of the registry; resolves to whether it was stopped. */
  async stop(id: string): Promise<boolean> {
    const reply = await requestAPI<IStopReply>(`servers/${encodeURIComponent(id)}/stop`, {
      method: 'POST'
    });
    this.refreshSoon();
    return reply.stopped;
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _poll: Poll;
  private _servers: IServerInfo[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _changed = new Signal<this, void>(this);
}
