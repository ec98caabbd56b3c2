"""In a real InteractiveShell: each mistake is its UsageError (one line, no traceback), and the
shell carries on; configuration goes through %config."""

from __future__ import annotations

import pytest

from sgl_notebook.magics import errors
from tests.magics.conftest import run


def _connected_nowhere(name):
    """A server connected by URL (what %sgl connect makes) whose port nobody listens on."""
    from sgl_notebook.server.registry import ServerRecord
    from sgl_notebook.server.server import Server

    return Server(ServerRecord(
        id=name, name=name, engine="remote", model="m", url="http://127.0.0.1:9",
        host="127.0.0.1", port=9, pid=None, pgid=None, create_time=None, started_at=0.0,
        log_path=None, owner_pid=None, owner_kernel_id=None, api_key=None, managed=False,
    ))


@pytest.mark.parametrize(
    ("source", "error", "words"),
    [
        ("%%sgl\nHello", errors.NoServerError, "%sgl launch"),
        ("%%sgl --bogus\nHello", errors.UnknownOptionError, "unknown option --bogus"),
        ("%sgl lauch", errors.UnknownSubcommandError, "Did you mean 'launch'"),
        ("%sgl use nothere", errors.UnknownServerError, "No server named 'nothere'"),
        ("%sgl stop ghost", errors.UnknownServerError, "ghost"),
        ("%sgl stop --all --save-log x.log", errors.SglUsageError, "--save-log takes one server"),
        ("%sgl session reset nope", errors.UnknownSessionError, "No session named 'nope'"),
        ("%sgl logs", errors.NoServerError, "No server yet"),
    ],
)
def test_mistake_gives_its_usage_error_and_the_shell_carries_on(
    ipshell, magics, capsys, source, error, words
):
    result = run(ipshell, source)
    assert isinstance(result.error_in_exec, error)
    assert words in str(result.error_in_exec)
    err = capsys.readouterr().err + capsys.readouterr().out
    # one line, no traceback
    assert "Traceback" not in err
    assert run(ipshell, "1 + 1").result == 2


def test_unknown_template_variable_and_bad_schema_need_no_server_to_be_reported(ipshell, magics):
    magics.book.add(_connected_nowhere("fake"))
    ipshell.user_ns["country"] = "France"
    result = run(ipshell, "%%sgl\nCapital of {{ contry }}?")
    assert isinstance(result.error_in_exec, errors.TemplateVariableError)
    assert "Did you mean 'country'" in str(result.error_in_exec)
    result = run(ipshell, "%%sgl --json-schema '{\"type\": 5}'\nHi")
    assert isinstance(result.error_in_exec, errors.InvalidSchemaError)


def test_unreachable_server_is_a_usage_error_not_a_traceback(ipshell, magics):
    magics.book.add(_connected_nowhere("gone"))
    result = run(ipshell, "%%sgl\nHi")
    assert isinstance(result.error_in_exec, errors.ServerRequestError)
    assert "Cannot reach the server" in str(result.error_in_exec)


def test_config_traits_are_set_with_percent_config_and_validated(ipshell, magics, capsys):
    run(ipshell, "%config SglMagics.max_tokens = 64")
    run(ipshell, "%config SglMagics.temperature = 0.0")
    assert magics.max_tokens == 64 and magics.temperature == 0.0
    with pytest.warns(UserWarning, match="between 1 and 60"):
        ipshell.run_line_magic("config", "SglMagics.update_rate = 500")
    assert magics.update_rate == 10.0  # refused, the other settings kept
    assert magics.max_tokens == 64
    with pytest.warns(UserWarning, match="Did you mean"):
        ipshell.run_line_magic("config", "SglMagics.default_engine = 'cpuu'")
    assert magics.default_engine == "auto"
    run(ipshell, "%config SglMagics")
    out = capsys.readouterr().out
    assert "SglMagics.max_tokens" in out and "Default --max-tokens" in out


def test_help_documents_options_and_subcommands(ipshell, magics):
    cell_doc = ipshell.find_cell_magic("sgl").__doc__
    line_doc = ipshell.find_line_magic("sgl").__doc__
    for option in (
        "--max-tokens",
        "--json-schema",
        "--choices",
        "--session",
        "--no-stream",
        "--logprobs",
        "-o",
    ):
        assert option in cell_doc
    for command in ("%sgl launch", "%sgl stop", "%sgl connect", "%sgl session", "--idle-timeout"):
        assert command in line_doc
    assert "%%sgl launch" not in line_doc
    assert cell_doc.lstrip(": \n").startswith("%%sgl [--server SERVER]")


def test_list_with_no_servers_says_how_to_start_one(ipshell, magics):
    result = run(ipshell, "%sgl list")
    bundle = result.result._repr_mimebundle_()
    assert "%sgl launch" in bundle["text/plain"]
