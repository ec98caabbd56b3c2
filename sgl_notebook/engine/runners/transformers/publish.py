"""Publishing a folder all at once: written under a temporary name beside its target, then
renamed into place, so a reader (or a second writer racing the first) never sees half of it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def publish_folder(target: Path, write: Callable[[Path], None], ready_file: str) -> Path:
    """Make ``target`` by calling ``write(staging)`` on an empty folder and renaming it into place.

    ``target`` counts as made once it holds ``ready_file``; then nothing is written. When two
    processes publish at once, the first rename wins and the other discards its copy: both
    return ``target``. A ``write`` that raises leaves nothing behind.
    """
    if (target / ready_file).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        try:
            os.rename(staging, target)
        except OSError:  # another process got there first (rename onto a non-empty folder)
            if not (target / ready_file).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
