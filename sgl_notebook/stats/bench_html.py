"""Pure builders for a benchmark's display: a summary table and an inline SVG latency plot.

Everything is escaped; the SVG needs no library and stays in a saved notebook.

>>> "<svg" in latency_svg([{"ttft_ms": 10.0, "e2e_ms": 30.0}])
True
>>> latency_svg([])
''
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["comparison_html", "latency_svg", "result_html", "summary_rows", "summary_text"]

# (label, summary key, unit) in the order people read a bench_serving report
_TABLE = (
    ("Completed requests", "completed", ""),
    ("Duration", "duration", "s"),
    ("Request throughput", "request_throughput", "req/s"),
    ("Input throughput", "input_throughput", "tok/s"),
    ("Output throughput", "output_throughput", "tok/s"),
    ("Concurrency", "concurrency", ""),
    ("TTFT mean / median / p99", ("mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms"), "ms"),
    ("ITL mean / median / p99", ("mean_itl_ms", "median_itl_ms", "p99_itl_ms"), "ms"),
    ("E2E latency mean / median / p99",
     ("mean_e2e_latency_ms", "median_e2e_latency_ms", "p99_e2e_latency_ms"), "ms"),
)
_STYLE = "border-collapse:collapse;font-family:var(--jp-code-font-family,monospace);font-size:12px"
_CELL = "padding:2px 8px;text-align:right;border-bottom:1px solid rgba(128,128,128,.25)"
_LEFT = "padding:2px 8px;text-align:left;border-bottom:1px solid rgba(128,128,128,.25)"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:.3g}"
    return str(value)


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value with unit) pairs for the keys the summary has."""
    rows = []
    for label, keys, unit in _TABLE:
        group = keys if isinstance(keys, tuple) else (keys,)
        if not any(k in summary for k in group):
            continue
        text = " / ".join(_fmt(summary.get(k)) for k in group)
        rows.append((label, f"{text} {unit}".strip()))
    return rows


def _title(result: Any) -> str:
    options = result.options or {}
    load = ", ".join(f"{k}={v}" for k, v in options.items() if v is not None)
    state = " (interrupted: partial summary)" if result.interrupted else ""
    return f"bench_serving on {result.server or 'server'}{state}" + (f" · {load}" if load else "")


def summary_text(result: Any) -> str:
    """The plain-text form: a title line and one line per figure."""
    lines = [_title(result)]
    lines += [f"  {label:<34} {value}" for label, value in summary_rows(result.summary)]
    return "\n".join(lines)


def latency_svg(rows: list[dict[str, Any]], width: int = 460, height: int = 180) -> str:
    """Per-request TTFT and end-to-end latency (ms) against request number; markers, so one
    request shows. '' when no request succeeded."""
    points = [(i, r.get("ttft_ms"), r.get("e2e_ms")) for i, r in enumerate(rows)]
    points = [(i, t, e) for i, t, e in points if t is not None or e is not None]
    if not points:
        return ""
    top = max(max(t or 0.0, e or 0.0) for _, t, e in points) * 1.1 or 1.0
    left, bottom, inner_w, inner_h = 48, 22, width - 60, height - 40
    span = max(1, len(rows) - 1)

    def xy(i: int, value: float) -> str:
        return f"{left + inner_w * i / span:.1f},{height - bottom - inner_h * value / top:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="10" fill="#888">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 8}" y2="{height - bottom}" '
             'stroke="#888"/>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{left}" y2="10" stroke="#888"/>',
             f'<text x="4" y="14">{top:,.0f} ms</text>',
             f'<text x="4" y="{height - bottom}">0</text>',
             f'<text x="{left}" y="{height - 6}">request 0</text>',
             f'<text x="{width - 70}" y="{height - 6}">request {len(rows) - 1}</text>']
    for key, color, index in (("e2e", "#1f77b4", 2), ("ttft", "#ff7f0e", 1)):
        for point in points:
            i, value = point[0], point[index]
            if value is None:
                continue
            x, y = xy(i, value).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}">'
                         f"<title>request {i} {key} {value:,.1f} ms</title></circle>")
    parts.append('<text x="60" y="14" fill="#1f77b4">● end-to-end</text>'
                 '<text x="150" y="14" fill="#ff7f0e">● time to first token</text></svg>')
    return "".join(parts)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    head = ""
    if header:
        head = "<tr>" + "".join(
            f'<th style="{_LEFT if i == 0 else _CELL}">{html.escape(h)}</th>'
            for i, h in enumerate(header)
        ) + "</tr>"
    body = "".join(
        "<tr>" + "".join(
            f'<td style="{_LEFT if i == 0 else _CELL}">{html.escape(cell)}</td>'
            for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f'<table style="{_STYLE}">{head}{body}</table>'


def result_html(result: Any) -> str:
    """Title, summary table, latency plot and the failures, if any."""
    errors = [r["error"] for r in result.rows if r.get("error")]
    failures = (
        f"<div>{len(errors)} request(s) failed; first: {html.escape(errors[0][:300])}</div>"
        if errors else ""
    )
    note = (f'<div style="opacity:.7">tokenizer: {html.escape(result.tokenizer_note)}</div>'
            if result.tokenizer_note else "")
    return (f'<div class="sgl-bench"><div><b>{html.escape(_title(result))}</b></div>'
            f"{_table(summary_rows(result.summary))}{latency_svg(result.rows)}{failures}"
            f"{note}</div>")


def comparison_html(a: Any, b: Any) -> str:
    """Two runs' summaries in one table, then their latency plots side by side."""
    labels = [label for label, _ in summary_rows({**a.summary, **b.summary})]
    left, right = dict(summary_rows(a.summary)), dict(summary_rows(b.summary))
    rows = [(label, left.get(label, "–"), right.get(label, "–")) for label in labels]
    plots = "".join(
        f'<div style="display:inline-block;margin-right:12px"><div>{html.escape(r.server)}</div>'
        f"{latency_svg(r.rows, width=360)}</div>"
        for r in (a, b)
    )
    header = ("", a.server or "A", b.server or "B")
    return (f'<div class="sgl-bench"><div><b>{html.escape("Same load, two servers")}</b></div>'
            f"{_table(rows, header)}<div>{plots}</div></div>")
