"""The ``%sgl`` / ``%%sgl`` magics: configuration traits and dispatch, nothing else.

Parsing lives in :mod:`specs` (cells) and :mod:`subcommands` (lines, with their handlers in
:mod:`actions`), templating in :mod:`template`, requests in :mod:`requests` and
:mod:`cell_runner`, display in :mod:`sgl_notebook.display`.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from sgl_notebook.magics.actions import ensure_running
from sgl_notebook.magics.cell_runner import ServerTarget, run_cell
from sgl_notebook.magics.errors import ServerRequestError, did_you_mean
from sgl_notebook.magics.requests import Defaults, chat_messages, resolve_schema
from sgl_notebook.magics.server_book import ServerBook
from sgl_notebook.magics.specs import CellSpec, cell_magic_arguments, parse_cell
from sgl_notebook.magics.subcommands import dispatch, line_help, parse_command
from sgl_notebook.magics.template import render_prompt

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["SglMagics"]

ENGINES = ("auto", "sglang", "vllm", "cpu")


def _note_answers(server: NotebookServer, results: list[Any]) -> None:
    """Short answers log no decode line: their own token/s goes into the server's stats."""
    from sgl_notebook.server.errors import SglNotebookError
    from sgl_notebook.stats.answers import note_answer

    try:
        stats = server.stats
    except SglNotebookError:  # live stats unavailable (said where they are asked for)
        return
    note_answer(stats, results)


@magics_class
class SglMagics(Magics):
    """Run and talk to SGLang servers from a notebook (``%config SglMagics.<trait>``)."""

    max_tokens = Int(256, config=True, help="Default --max-tokens of a %%sgl cell.")
    temperature = Float(
        None,
        allow_none=True,
        config=True,
        help="Default --temperature (None: the server's default).",
    )
    stream = Bool(
        True, config=True, help="Stream answers token by token (False: wait for the whole answer)."
    )
    # Each redraw is one comm message through ipykernel's IOPub thread, whatever the token
    # rate; what that costs is measured by benchmarks/bench_magics.py (docs/benchmarks.md).
    update_rate = Float(
        10.0, config=True, help="Most redraws per second of a streaming answer (1-60)."
    )
    default_engine = Unicode(
        "auto", config=True, help="Engine of %sgl launch: auto, sglang, vllm or cpu."
    )
    idle_timeout = Float(
        None,
        allow_none=True,
        config=True,
        help="Stop launched servers after this many idle seconds (None: never).",
    )
    top_logprobs = Int(5, config=True, help="Alternatives shown on hover with --logprobs (0-20).")

    @validate("max_tokens")
    def _check_max_tokens(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"SglMagics.max_tokens must be at least 1, got {proposal['value']}.")
        return int(proposal["value"])

    @validate("temperature")
    def _check_temperature(self, proposal: Any) -> float | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError(f"SglMagics.temperature must be >= 0, got {value}.")
        return value  # type: ignore[no-any-return]

    @validate("update_rate")
    def _check_update_rate(self, proposal: Any) -> float:
        if not 1 <= proposal["value"] <= 60:
            raise TraitError(
                f"SglMagics.update_rate must be between 1 and 60, got {proposal['value']}."
            )
        return float(proposal["value"])

    @validate("default_engine")
    def _check_engine(self, proposal: Any) -> str:
        if proposal["value"] not in ENGINES:
            hint = did_you_mean(proposal["value"], ENGINES)
            raise TraitError(f"SglMagics.default_engine must be one of {', '.join(ENGINES)}.{hint}")
        return str(proposal["value"])

    @validate("top_logprobs")
    def _check_top_logprobs(self, proposal: Any) -> int:
        if not 0 <= proposal["value"] <= 20:
            raise TraitError(
                f"SglMagics.top_logprobs must be between 0 and 20, got {proposal['value']}."
            )
        return int(proposal["value"])

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        # A bad value once given to %config stays in the shell's config; refusing it must not
        # make every later %load_ext / %reload_ext fail, so keep the good values and warn.
        try:
            super()._load_config(cfg, section_names=section_names, traits=traits)
        except TraitError as exc:
            warnings.warn(f"ignoring invalid SglMagics configuration: {exc}", stacklevel=2)
            for name, value in dict(cfg.get(type(self).__name__, {})).items():
                with contextlib.suppress(TraitError, AttributeError):
                    setattr(self, name, value)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.book = ServerBook()
        self.sessions: dict[str, list[dict[str, str]]] = {}
        self.last_results: list[Any] = []
        self.last_dashboard: Any = None

    # ------------------------------------------------------------- %%sgl

    # no_var_expand: IPython would otherwise turn `{3}` in `--regex '[0-9]{3}'` into `3`.
    @cell_magic("sgl")  # type: ignore[arg-type]
    @cell_magic_arguments
    @no_var_expand
    def sgl_cell(self, line: str, cell: str) -> None:
        """Send the cell to the current server as a prompt and stream the answer.

        ``{{ name }}`` is filled from the notebook's variables. Examples::

            %%sgl --max-tokens 64 -o answer
            What is the capital of {{ country }}?

            %%sgl --json-schema CitySchema --temperature 0
            Describe Paris as JSON.
        """
        spec = parse_cell(line, cell)
        self.run(spec)

    def run(self, spec: CellSpec) -> list[Any]:
        """Act on a parsed cell: template, resolve the server, send, store ``-o``."""
        namespace = self.shell.user_ns if self.shell is not None else {}
        hidden = getattr(self.shell, "user_ns_hidden", {})
        prompt = render_prompt(spec.prompt, namespace, hidden)
        system = render_prompt(spec.system, namespace, hidden) if spec.system else spec.system
        server: NotebookServer = self.book.get(spec.server)
        ensure_running(server)
        schema = resolve_schema(spec.json_schema, namespace, hidden) if spec.json_schema else None
        messages = None
        if spec.mode == "chat":
            history = self.sessions.get(spec.session) if spec.session else None
            messages = chat_messages(prompt, system, history)
        elif system:
            prompt = f"{system}\n\n{prompt}"
        target = ServerTarget(
            url=str(server.url).rstrip("/"),
            api_key=server.api_key,
            name=server.name,
            model=server.model,
            log_lines=server.logs if server.managed else None,
        )
        defaults = Defaults(self.max_tokens, self.temperature, self.stream, self.top_logprobs)
        try:
            results = run_cell(
                spec,
                prompt,
                messages,
                target,
                defaults,
                schema=schema,
                max_updates_per_s=self.update_rate,
            )
        except ServerRequestError:
            # it died while we asked: say how (killed, stopped from elsewhere), not "unreachable"
            if server.managed and not server.is_alive():
                ensure_running(server)
            raise
        self.last_results = results
        _note_answers(server, results)
        if spec.session and messages is not None and results:
            self.sessions[spec.session] = [
                *messages,
                {"role": "assistant", "content": results[0].text},
            ]
        if spec.output and namespace is not None:
            namespace[spec.output] = results if spec.n > 1 else results[0]
        return results

    # -------------------------------------------------------------- %sgl

    @line_magic("sgl")  # type: ignore[arg-type]
    @no_var_expand
    def sgl_line(self, line: str) -> Any:
        """Manage servers: %sgl launch|stop|restart|list|use|connect|logs|stats|info|flush|session;
        put load on one with %sgl bench (SGLang's bench_serving).

        Examples::

            %sgl launch                      # GPU: SGLang; no GPU: the CPU engine (SmolLM2)
            %sgl launch Qwen/Qwen2.5-7B-Instruct --name qwen -- --mem-fraction-static 0.8
            %sgl list
            %sgl use qwen
            %sgl bench --num-prompts 50 --max-concurrency 8 -o run
            %sgl stop --all
        """
        return dispatch(self, *parse_command(line))


SglMagics.sgl_line.__doc__ = (SglMagics.sgl_line.__doc__ or "") + "\n" + line_help()
