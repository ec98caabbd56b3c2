"""``python -m sgl_notebook.engine [SGLang server flags]`` -- the CPU engine's entry point."""

from __future__ import annotations

import sys

from .launch_server import run


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
