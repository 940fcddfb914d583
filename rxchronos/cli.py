"""The ``rxchronos`` command.

One function per subcommand; each returns the process exit status.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    rxchronos ...
    0
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from rxchronos import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rxchronos`` command with ``argv`` (default: ``sys.argv[1:]``); return the status.

    Example:
        >>> main(["demo", "--once"])  # doctest: +SKIP
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    status: int = args.run(args)
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rxchronos",
        description="Reactive LLM streaming: model tokens, graph events and SSE as Observables.",
    )
    parser.add_argument("--version", action="version", version=f"rxchronos {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run the offline demo", description="Run the offline end-to-end demo."
    )
    demo.add_argument("--once", action="store_true", help="run once and exit (no web demo)")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=0, help="port to serve on (0: any free port)")
    demo.set_defaults(run=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    """``rxchronos demo``: a local SSE stream read back through an Rx pipeline."""
    from rxchronos._demo_sse import run_sse_demo

    if not args.once:
        print("the interactive web demo arrives with the web layer; running the stream demo once")
    return asyncio.run(run_sse_demo(host=args.host, port=args.port, out=sys.stdout))


if __name__ == "__main__":
    raise SystemExit(main())
