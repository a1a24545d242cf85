"""The ``logsvc`` command's entry point: Ctrl-C ends any command quietly (exit 130), at any
moment, including while the CLI's own modules are still loading."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def main() -> int:
    try:
        from logsvc_local.cli import main as run

        return run()
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
