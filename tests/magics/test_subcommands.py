"""The one table of %sgl subcommands drives parsing, help, "did you mean" and dispatch."""

from __future__ import annotations

import pytest

from sgl_notebook.magics import errors
from sgl_notebook.magics.line_specs import HelpSpec, StopSpec
from sgl_notebook.magics.subcommands import (
    SUBCOMMANDS,
    TABLE,
    command_help,
    line_help,
    parse_command,
    parse_line,
)
from tests.magics.conftest import run


def test_every_subcommand_is_in_the_help_and_answers_its_own_help():
    assert tuple(c.name for c in TABLE) == SUBCOMMANDS
    assert len(set(SUBCOMMANDS)) == len(SUBCOMMANDS)
    everything = line_help()
    for command in TABLE:
        own = command_help(command.name)
        assert own.lstrip(": \n").startswith(f"%sgl {command.name}")
        assert command.about.replace("%%", "%") in own.replace("%%", "%")
        assert own in everything
        assert parse_line(f"{command.name} --help") == HelpSpec(command.name)
        assert parse_line(f"help {command.name}") == HelpSpec(command.name)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_a_typo_of_any_subcommand_suggests_it(name):
    typo = name[:-1] if len(name) > 4 else name + "x"
    with pytest.raises(errors.UnknownSubcommandError) as info:
        parse_line(typo)
    assert f"Did you mean '{name}'?" in str(info.value)
    assert f"Subcommands: {', '.join(SUBCOMMANDS)}." in str(info.value)


def test_a_parsed_line_names_the_entry_that_acts_on_it():
    command, spec = parse_command("logs tiny -n 3")
    assert command is not None and command.name == "logs"
    assert (spec.name, spec.n) == ("tiny", 3)
    assert parse_command("help") == (None, HelpSpec(None))
    command, spec = parse_command("launch -- --log-level warning")
    assert command is not None and command.passthrough
    assert spec.extra_args == ("--log-level", "warning")
    # only launch hands the words after -- to the server; elsewhere -- ends the options
    assert parse_line("stop -- x") == StopSpec(("x",))


def test_dispatch_runs_the_handler_of_the_table(ipshell, magics, capsys):
    table = run(ipshell, "%sgl list").result
    assert "No servers yet" in table._repr_mimebundle_()["text/plain"]
    magics.sessions["chat1"] = [{"role": "user", "content": "hi"}]
    run(ipshell, "%sgl session reset chat1")
    assert "chat1" not in magics.sessions
    assert "session 'chat1' reset" in capsys.readouterr().out
    run(ipshell, "%sgl help stop")
    assert command_help("stop") in capsys.readouterr().out
