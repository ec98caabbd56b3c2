"""``%sgl bench``: put load on a server with SGLang's ``sglang.bench_serving``, from a notebook.

Parse first (:func:`add_bench_parser`, :func:`bench_spec`), then act (:func:`run_bench_spec`)::

    %sgl bench --num-prompts 20 --max-concurrency 4 -o run
    %sgl bench --dataset shared-prefix --groups 4 --prompts-per-group 8
    %sgl bench --compare cpu gpu --num-prompts 50

Mistakes (an unknown dataset or backend, zero prompts, a stopped server, a server that dies
mid-run) are one-line :class:`BenchFailedError`; an interrupt shows the partial summary.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

from sgl_notebook.magics.errors import SglUsageError
from sgl_notebook.server.bench_setup import BACKENDS, DATASETS, BenchError, BenchOptions

__all__ = ["BenchFailedError", "BenchSpec", "add_bench_parser", "bench_spec", "run_bench_spec"]


class BenchFailedError(SglUsageError):
    """The benchmark could not run or did not finish (the reason is in the message)."""


@dataclass(frozen=True)
class BenchSpec:
    """A parsed ``%sgl bench`` line: the server(s), the load, where to put the result."""

    options: BenchOptions
    name: str | None = None
    compare: tuple[str, str] | None = None
    output: str | None = None


def add_bench_parser(parser: Any) -> Any:
    """Declare ``%sgl bench``'s options on ``parser`` (an argparse parser that raises
    UsageErrors); returns it."""
    parser.add_argument("name", nargs="?", help="server name (default: the current one)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="run the same load on two servers, one after the other")
    parser.add_argument("--num-prompts", type=int, default=50, help="requests (default 50)")
    parser.add_argument("--max-concurrency", type=int, help="requests in flight at most")
    parser.add_argument("--request-rate", type=float, default=math.inf,
                        help="requests per second (default inf: all at once)")
    parser.add_argument("--dataset", default="random-ids",
                        help="random-ids (default) or shared-prefix; both generated, no download")
    parser.add_argument("--input-len", type=int, default=128, help="prompt tokens (random-ids)")
    parser.add_argument("--output-len", type=int, default=32, help="tokens generated per request")
    parser.add_argument("--groups", type=int, default=4, help="shared-prefix: prefix groups")
    parser.add_argument("--prompts-per-group", type=int, default=8,
                        help="shared-prefix: questions per group")
    parser.add_argument("--system-prompt-len", type=int, default=256,
                        help="shared-prefix: tokens of each shared system prompt")
    parser.add_argument("--question-len", type=int, default=32,
                        help="shared-prefix: tokens of each question")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--backend", help=f"bench_serving backend: {', '.join(BACKENDS)}")
    parser.add_argument("--tokenizer", help="tokenizer folder (default: found from the server)")
    parser.add_argument("-o", "--output", metavar="VAR", help="store the BenchResult in VAR")
    return parser


def bench_spec(args: argparse.Namespace) -> BenchSpec:
    """Parsed options -> :class:`BenchSpec`; every bad value is a one-line usage error."""
    if args.compare and args.name:
        raise SglUsageError("%sgl bench: give a server name or --compare A B, not both.")
    if args.output is not None and not args.output.isidentifier():
        raise SglUsageError(f"%sgl bench: -o {args.output!r} is not a valid Python variable name.")
    if args.dataset not in DATASETS:
        from sgl_notebook.magics.errors import did_you_mean

        raise SglUsageError(
            f"%sgl bench: unknown dataset {args.dataset!r}.{did_you_mean(args.dataset, DATASETS)}"
            " Use random-ids or shared-prefix (generated here, no download)."
        )
    options = BenchOptions(
        num_prompts=args.num_prompts, max_concurrency=args.max_concurrency,
        request_rate=args.request_rate, dataset=args.dataset, input_len=args.input_len,
        output_len=args.output_len, groups=args.groups, prompts_per_group=args.prompts_per_group,
        system_prompt_len=args.system_prompt_len, question_len=args.question_len, seed=args.seed,
        backend=args.backend, tokenizer=args.tokenizer,
    )
    try:
        options.check()
    except BenchError as exc:
        raise SglUsageError(f"%sgl bench: {exc}.") from None
    compare = (args.compare[0], args.compare[1]) if args.compare else None
    return BenchSpec(options, args.name, compare, args.output)


def run_bench_spec(book: Any, spec: BenchSpec, namespace: dict[str, Any] | None) -> Any:
    """Run the load (live view in the notebook); store ``-o``; return what the cell shows."""
    from sgl_notebook.display import bench_view

    try:
        if spec.compare is not None:
            a, b = (book.get(name) for name in spec.compare)
            result: Any = bench_view.compare(a, b, spec.options)
            interrupted = result.a.interrupted or result.b.interrupted
        else:
            result = bench_view.bench(book.get(spec.name), spec.options)
            interrupted = result.interrupted
    except BenchError as exc:
        raise BenchFailedError(f"%sgl bench: {exc}") from None
    if interrupted:
        print("%sgl bench: interrupted; the partial summary follows (the bench process is gone)")
    if spec.output and namespace is not None:
        namespace[spec.output] = result
    return result
