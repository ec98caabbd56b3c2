/**
 * ServerCard: the DOM of one server in the sidebar, updated in place on every poll so an open
 * log tail or a focused button survives refreshes.
 */

import {
  formatPercent,
  formatThroughput,
  formatUptime,
  shortModelName,
  sparklinePoints
} from './format';
import { IServerInfo } from './types';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const SPARK_WIDTH = 120;
export const SPARK_HEIGHT = 28;

export interface IServerCardActions {
  copy(text: string): void;
  stop(server: IServerInfo): void;
  /** Called when the log tail is opened, and on every poll while it stays open. */
  loadLogs(server: IServerInfo, into: HTMLPreElement): void;
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

/** `[2025-07-28 04:59:51] ` / `[2025-07-28 04:59:51 TP0] `: shown dimmed, kept whole. */
const LOG_PREFIX = /^\[[^\]]{10,40}\] /;

/**
 * Fill a log tail element: one element per line (long lines wrap with a hanging indent, the
 * whole line on hover), and a note saying how many polling lines were left out.
 */
export function renderLogTail(into: HTMLElement, lines: string[], hidden: number): void {
  into.textContent = '';
  if (hidden > 0) {
    const note = el(
      'div',
      'sgl-LogTail-note',
      `${hidden} polling line${hidden === 1 ? '' : 's'} hidden (GET /metrics, /health…: ` +
        'the dashboard and sidebar asking)'
    );
    into.appendChild(note);
  }
  if (lines.length === 0) {
    into.appendChild(el('div', 'sgl-LogTail-empty', '(the log is empty)'));
    return;
  }
  for (const line of lines) {
    const item = el('div', 'sgl-LogLine');
    item.title = line;
    const prefix = LOG_PREFIX.exec(line);
    if (prefix) {
      item.appendChild(el('span', 'sgl-LogLine-time', prefix[0]));
      item.appendChild(document.createTextNode(line.slice(prefix[0].length)));
    } else {
      item.textContent = line;
    }
    into.appendChild(item);
  }
}

function row(label: string, value: HTMLElement): HTMLElement {
  const line = el('div', 'sgl-ServerCard-row');
  line.appendChild(el('span', 'sgl-ServerCard-label', label));
  line.appendChild(value);
  return line;
}

export class ServerCard {
  readonly node: HTMLElement;

  constructor(
    private _info: IServerInfo,
    private _actions: IServerCardActions
  ) {
    const node = (this.node = el('div', 'sgl-ServerCard'));
    node.dataset.serverId = _info.id;

    const header = el('div', 'sgl-ServerCard-header');
    this._status = el('span', 'sgl-ServerCard-status');
    this._name = el('span', 'sgl-ServerCard-name');
    this._stop = el('button', 'jp-Button jp-mod-styled jp-mod-warn sgl-ServerCard-stop', 'Stop');
    this._stop.title = 'Stop this server and its processes';
    this._stop.addEventListener('click', () => this._actions.stop(this._info));
    header.append(this._status, this._name, this._stop);

    this._engine = el('span', 'sgl-ServerCard-engine');
    this._model = el('span', 'sgl-ServerCard-model');
    const urlBox = el('span', 'sgl-ServerCard-urlbox');
    this._url = el('code', 'sgl-ServerCard-url');
    const copy = el('button', 'jp-Button jp-mod-minimal sgl-ServerCard-copy', 'Copy');
    copy.title = 'Copy the server URL';
    copy.addEventListener('click', () => this._actions.copy(this._info.url));
    urlBox.append(this._url, copy);
    this._uptime = el('span', 'sgl-ServerCard-uptime');
    this._kernel = el('span', 'sgl-ServerCard-kernel');

    const spark = el('div', 'sgl-ServerCard-spark');
    this._svg = document.createElementNS(SVG_NS, 'svg');
    this._svg.setAttribute('class', 'sgl-Sparkline');
    this._svg.setAttribute('width', String(SPARK_WIDTH));
    this._svg.setAttribute('height', String(SPARK_HEIGHT));
    this._svg.setAttribute('viewBox', `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`);
    this._svg.setAttribute('role', 'img');
    this._line = document.createElementNS(SVG_NS, 'polyline');
    this._svg.appendChild(this._line);
    this._throughput = el('span', 'sgl-ServerCard-throughput');
    spark.append(this._svg, this._throughput);

    this._load = el('span', 'sgl-ServerCard-load');

    this._details = el('details', 'sgl-ServerCard-logs');
    const summary = el('summary', 'sgl-ServerCard-logsSummary', 'Log tail');
    this._log = el('pre', 'sgl-ServerCard-logText');
    this._details.append(summary, this._log);
    this._details.addEventListener('toggle', () => {
      if (this._details.open) {
        this._actions.loadLogs(this._info, this._log);
      }
    });

    node.append(
      header,
      row('Engine', this._engine),
      row('Model', this._model),
      row('URL', urlBox),
      row('Uptime', this._uptime),
      row('Kernel', this._kernel),
      spark,
      this._load,
      this._details
    );
    this.update(_info);
  }

  get info(): IServerInfo {
    return this._info;
  }

  /** True while the log tail is expanded. */
  get logsOpen(): boolean {
    return this._details.open;
  }

  get logElement(): HTMLPreElement {
    return this._log;
  }

  update(info: IServerInfo): void {
    this._info = info;
    const stats = info.stats;
    this.node.classList.toggle('sgl-mod-exited', !info.alive);
    this.node.classList.toggle('sgl-mod-orphaned', info.orphaned);
    this._status.textContent = info.alive ? 'running' : 'exited';
    this._status.dataset.status = info.status;
    this._name.textContent = info.name;
    this._name.title = info.id;
    this._engine.textContent = info.engine;
    this._model.textContent = shortModelName(info.model);
    this._model.title = info.model;
    this._url.textContent = info.url;
    this._url.title = info.url; // the sidebar is narrow: the whole URL on hover
    this._uptime.textContent = formatUptime(info.uptime_s);
    this._stop.disabled = !info.alive;

    if (info.orphaned) {
      this._kernel.textContent = 'orphaned (its kernel is gone)';
      this._kernel.classList.add('sgl-mod-warn');
    } else {
      this._kernel.classList.remove('sgl-mod-warn');
      this._kernel.textContent =
        info.owner_notebook ?? (info.owner_kernel_id ? info.owner_kernel_id.slice(0, 8) : '–');
      this._kernel.title = info.owner_kernel_id ?? '';
    }

    const points = sparklinePoints(stats.history, SPARK_WIDTH, SPARK_HEIGHT);
    this._line.setAttribute('points', points);
    this._svg.setAttribute('aria-label', `throughput history, ${stats.history.length} points`);
    this._throughput.textContent = formatThroughput(stats.gen_throughput);

    this._load.textContent =
      `running ${stats.running_req ?? '–'} · queued ${stats.queue_req ?? '–'} · ` +
      `KV ${formatPercent(stats.token_usage)} · cache hits ${formatPercent(stats.cache_hit_rate)}`;
  }

  private _status: HTMLSpanElement;
  private _name: HTMLSpanElement;
  private _stop: HTMLButtonElement;
  private _engine: HTMLSpanElement;
  private _model: HTMLSpanElement;
  private _url: HTMLElement;
  private _uptime: HTMLSpanElement;
  private _kernel: HTMLSpanElement;
  private _svg: SVGSVGElement;
  private _line: SVGPolylineElement;
  private _throughput: HTMLSpanElement;
  private _load: HTMLSpanElement;
  private _details: HTMLDetailsElement;
  private _log: HTMLPreElement;
}
