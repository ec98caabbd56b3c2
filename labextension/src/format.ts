/**
 * Pure formatting helpers: numbers and durations as a person reads them, and the sparkline path.
 */

import { ThroughputPoint } from './types';

/** `75` -> `"1m 15s"`, `4000` -> `"1h 06m"`, `null` -> `"–"`. */
export function formatUptime(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** `12.345` -> `"12.3 tok/s"`; `1234` -> `"1.23k tok/s"`; `null` -> `"– tok/s"`. */
export function formatThroughput(tokensPerSecond: number | null): string {
  if (tokensPerSecond === null || !Number.isFinite(tokensPerSecond)) {
    return '– tok/s';
  }
  if (tokensPerSecond >= 1000) {
    return `${(tokensPerSecond / 1000).toFixed(2)}k tok/s`;
  }
  return `${tokensPerSecond.toFixed(1)} tok/s`;
}

/** `0.4215` -> `"42%"`; `null` -> `"–"`. */
export function formatPercent(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) {
    return '–';
  }
  return `${Math.round(fraction * 100)}%`;
}

/** `"Qwen/Qwen2.5-7B-Instruct"` -> `"Qwen2.5-7B-Instruct"`, `"/tmp/x/tiny-model/"` -> `"tiny-model"`. */
export function shortModelName(model: string): string {
  const parts = model.split(/[\\/]/).filter(p => p.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : model;
}

/** The status bar text: `"SGLang: 2 running · 41.0 tok/s"`. */
export function formatStatusText(running: number, totalThroughput: number): string {
  if (running === 0) {
    return 'SGLang: none running';
  }
  return `SGLang: ${running} running · ${formatThroughput(totalThroughput)}`;
}

/**
 * SVG polyline points for a throughput history in a `width` x `height` box (y grows down).
 * The y scale starts at 0 so a flat idle server sits on the bottom edge.
 */
export function sparklinePoints(
  history: ThroughputPoint[],
  width: number,
  height: number
): string {
  if (history.length === 0) {
    return '';
  }
  const values = history.map(p => (Number.isFinite(p[1]) ? Math.max(0, p[1]) : 0));
  const max = Math.max(...values, 1e-9);
  const n = values.length;
  const step = n > 1 ? width / (n - 1) : 0;
  const pad = 1; // keep the stroke inside the box
  return values
    .map((v, i) => {
      const x = n > 1 ? i * step : width;
      const y = height - pad - (v / max) * (height - 2 * pad);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}
