"""``sgl-notebook ps | stop NAME | stop --all | logs NAME [-n N] [-f]`` over the registry.

Exit codes: 0 done, 1 something could not be done (e.g. a stop refused), 2 usage error or
unknown server name.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sgl_notebook.server.registry import (
    ServerRecord,
    find_record,
    list_records,
    owner_is_alive,
    record_is_alive,
    stop_record,
)

__all__ = ["main", "format_table", "format_uptime"]


def format_uptime(seconds: float) -> str:
    """``59s``, ``4m05s``, ``2h03m``, ``3d04h``.

    >>> format_uptime(245), format_uptime(7380)
    ('4m05s', '2h03m')
    """
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _owner(record: ServerRecord) -> str:
    if not record.managed:
        return "(connected)"
    if record.owner_kernel_id:
        return f"kernel {record.owner_kernel_id[:8]}"
    if record.owner_pid is None:
        return "-"
    return f"pid {record.owner_pid}" + ("" if owner_is_alive(record) else " (gone)")


def nest_records(records: Sequence[ServerRecord]) -> list[tuple[str, ServerRecord]]:
    """Records in ``ps`` order with a name prefix: a router's workers right under it.

    >>> from dataclasses import replace
    >>> base = ServerRecord("r", "grp", "router", "m", "u", "h", 1, None, None, None, 0.0,
    ...                     None, None, None, None, True, worker_ids=("a", "b"))
    >>> rows = nest_records([replace(base, id="a", name="w1", worker_ids=()), base,
    ...                      replace(base, id="b", name="w2", worker_ids=())])
    >>> [prefix + record.name for prefix, record in rows]
    ['grp', '├ w1', '└ w2']
    """
    by_id = {r.id: r for r in records}
    nested = {w for r in records for w in r.worker_ids if w in by_id}
    rows: list[tuple[str, ServerRecord]] = []
    for record in records:
        if record.id in nested:
            continue
        rows.append(("", record))
        workers = [by_id[w] for w in record.worker_ids if w in by_id]
        for index, worker in enumerate(workers):
            rows.append(("└ " if index == len(workers) - 1 else "├ ", worker))
    return rows


def format_table(records: Sequence[ServerRecord], now: float | None = None) -> str:
    """The ``ps`` table (pure apart from the liveness check); a router's workers are nested
    under it."""
    now = time.time() if now is None else now
    header = ("NAME", "ENGINE", "MODEL", "URL", "PID", "UPTIME", "OWNER", "ALIVE")
    rows = [header] + [
        (
            prefix + r.name, r.engine, r.model or "-", r.url, str(r.pid or "-"),
            format_uptime(now - r.started_at), _owner(r), "yes" if record_is_alive(r) else "no",
        )
        for prefix, r in nest_records(records)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgl-notebook", description="List, stop and read the logs of sgl-notebook servers."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ps", help="list running servers")
    stop = commands.add_parser("stop", help="stop a server (its whole process tree)")
    stop.add_argument("name", nargs="?", help="server name or id")
    stop.add_argument("--all", action="store_true", help="stop every registered server")
    stop.add_argument("--timeout", type=float, default=10.0)
    logs = commands.add_parser("logs", help="print a server's log")
    logs.add_argument("name", help="server name or id")
    logs.add_argument("-n", type=int, default=50, help="number of lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    return parser


def _unknown(name: str, err: TextIO) -> int:
    names = ", ".join(r.name for r in list_records()) or "none are running"
    err.write(f"sgl-notebook: no server named {name!r} (running: {names}). "
              "See `sgl-notebook ps`.\n")
    return 2


def _stop(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.all == bool(args.name):
        err.write("sgl-notebook stop: give a NAME or --all\n")
        return 2
    targets = list_records() if args.all else [find_record(args.name)]
    if targets == [None]:
        return _unknown(args.name, err)
    status = 0
    stopped: set[str] = set()
    for record in targets:
        assert record is not None
        if record.router_id in stopped:
            continue  # stopped with its router
        stopped.add(record.id)
        if stop_record(record, timeout=args.timeout, by="the sgl-notebook CLI"):
            out.write(f"stopped {record.name} ({record.url})\n")
        else:
            err.write(f"sgl-notebook: {record.name} was already gone; record removed\n")
            status = 1
    if args.all and not targets:
        out.write("no servers running\n")
    return status


def _tail(path: Path, n: int) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[-n:] if n > 0 else []


def _logs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    record = find_record(args.name)
    if record is None:
        return _unknown(args.name, err)
    if not record.log_path or not Path(record.log_path).exists():
        err.write(f"sgl-notebook: {record.name} has no log here (connected servers keep none)\n")
        return 1
    path = Path(record.log_path)
    for line in _tail(path, args.n):
        out.write(line + "\n")
    out.flush()
    if not args.follow:
        return 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while record_is_alive(record):
                line = handle.readline()
                if line:
                    out.write(line)
                    out.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Entry point of the ``sgl-notebook`` console script."""
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "ps":
        records = list_records()
        out.write((format_table(records) if records else "no servers running") + "\n")
        return 0
    if args.command == "stop":
        return _stop(args, out, err)
    return _logs(args, out, err)


if __name__ == "__main__":
    sys.exit(main())
