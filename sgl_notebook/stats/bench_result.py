"""What one ``sglang.bench_serving`` run measured: :class:`BenchResult`, and two side by side.

``summary`` keeps bench_serving's own keys (``completed``, ``request_throughput``,
``input_throughput``, ``output_throughput``, ``mean/median/p99_ttft_ms``, ``..._itl_ms``,
``..._e2e_latency_ms``, ``concurrency``, ``duration``, ...); ``rows`` has one dict per request
(``input_len``, ``output_len``, ``ttft_ms``, ``itl_ms`` (mean gap), ``e2e_ms``, ``error``).
It renders as a table and a latency plot (inline SVG: no matplotlib, kept in saved notebooks).

>>> result = BenchResult.from_output({"completed": 2, "request_throughput": 1.5,
...     "input_lens": [4, 4], "output_lens": [2, 3], "ttfts": [0.1, 0.2],
...     "itls": [[0.05], [0.05, 0.07]], "errors": ["", ""]}, server="cpu")
>>> result.summary["completed"], result.rows[1]["e2e_ms"]
(2, 320.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sgl_notebook.stats.bench_html import comparison_html, result_html, summary_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["BenchResult", "BenchComparison", "SUMMARY_KEYS", "ROW_COLUMNS"]

SUMMARY_KEYS = (
    "completed", "duration", "request_throughput", "input_throughput", "output_throughput",
    "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_itl_ms", "median_itl_ms",
    "p99_itl_ms", "mean_e2e_latency_ms", "median_e2e_latency_ms", "p99_e2e_latency_ms",
    "concurrency", "total_input_tokens", "total_output_tokens",
)
_DETAIL_KEYS = ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors")
ROW_COLUMNS = ("input_len", "output_len", "ttft_ms", "itl_ms", "e2e_ms", "error")


def _rows(output: dict[str, Any]) -> list[dict[str, Any]]:
    inputs, outputs = output.get("input_lens") or [], output.get("output_lens") or []
    ttfts, itls = output.get("ttfts") or [], output.get("itls") or []
    errors = output.get("errors") or []
    rows = []
    for i in range(max(len(inputs), len(outputs), len(ttfts))):
        ttft = ttfts[i] if i < len(ttfts) else None
        gaps = itls[i] if i < len(itls) and isinstance(itls[i], list) else []
        error = errors[i] if i < len(errors) else ""
        failed = bool(error)
        rows.append({
            "input_len": inputs[i] if i < len(inputs) else None,
            "output_len": outputs[i] if i < len(outputs) else None,
            "ttft_ms": None if failed or not ttft else round(ttft * 1000, 3),
            "itl_ms": round(1000 * sum(gaps) / len(gaps), 3) if gaps and not failed else None,
            "e2e_ms": None if failed or not ttft else round(1000 * (ttft + sum(gaps)), 3),
            "error": error or "",
        })
    return rows


@dataclass
class BenchResult:
    """One run: ``summary`` (bench_serving's keys), ``rows`` (one per request), how it ran.

    ``interrupted`` runs carry a partial summary (``completed`` so far, ``duration``,
    ``request_throughput``) and no rows.
    """

    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    server: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    tokenizer_note: str = ""
    interrupted: bool = False

    @classmethod
    def from_output(cls, output: dict[str, Any], **kwargs: Any) -> BenchResult:
        """From bench_serving's ``--output-details`` JSON line."""
        summary = {k: v for k, v in output.items() if k not in _DETAIL_KEYS}
        return cls(summary=summary, rows=_rows(output), **kwargs)

    def df(self) -> pandas.DataFrame:
        """One row per request (``input_len``, ``output_len``, ``ttft_ms``, ``itl_ms``,
        ``e2e_ms``, ``error``), indexed by request number."""
        try:
            import pandas
        except ImportError as error:
            raise ImportError("BenchResult.df() needs pandas: pip install pandas") from error
        frame = pandas.DataFrame(self.rows, columns=list(ROW_COLUMNS))
        frame.index.name = "request"
        return frame

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def __repr__(self) -> str:
        return summary_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": summary_text(self), "text/html": result_html(self)}


@dataclass
class BenchComparison:
    """The same load on two servers: ``a`` and ``b``, shown side by side."""

    a: BenchResult
    b: BenchResult

    def df(self) -> pandas.DataFrame:
        """The two summaries as columns (one row per bench_serving key)."""
        import pandas

        keys = [k for k in SUMMARY_KEYS if k in self.a.summary or k in self.b.summary]
        return pandas.DataFrame(
            {
                self.a.server or "A": [self.a.summary.get(k) for k in keys],
                self.b.server or "B": [self.b.summary.get(k) for k in keys],
            },
            index=keys,
        )

    def __repr__(self) -> str:
        return summary_text(self.a) + "\n" + summary_text(self.b)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": comparison_html(self.a, self.b)}
