"""The log pump: both pipes, a bounded buffer, a bounded private log file, listeners."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from sgl_notebook.server.logpump import LogPump

SCRIPT = (
    "import sys\n"
    "for i in range(2000):\n"
    "    print(f'out {i}', flush=True)\n"
    "    print(f'err {i}', file=sys.stderr, flush=True)\n"
    "sys.stderr.write('tqdm 1/2\\rtqdm 2/2\\n')\n"
)


def test_pump_reads_both_pipes_bounds_buffer_and_file(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    log = tmp_path / "server.log"
    pump = LogPump(process, log, max_lines=100, max_log_bytes=10_000)
    seen: list[str] = []
    pump.add_listener(seen.append)
    pump.start()
    process.wait(timeout=60)
    assert pump.finished.wait(10)
    pump.close()
    assert len(seen) == 4002  # every line, carriage-return redraws split
    assert seen.count("tqdm 2/2") == 1 and "out 1999" in seen and "err 1999" in seen
    assert len(pump.lines()) == 100 and set(pump.lines()) <= set(seen)
    assert "out 0" not in pump.lines()  # the buffer keeps only the newest lines
    assert log.stat().st_size <= 10_100 and (tmp_path / "server.log.1").exists()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert pump.lines(0) == []
