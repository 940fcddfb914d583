"""The ``rxchronos`` command: ``demo``, ``chat`` and ``tail``.

* ``rxchronos demo`` serves the live demo page (``--once``: run the demo graph in the terminal);
* ``rxchronos chat "prompt" --model provider:model`` streams an answer, token by token;
* ``rxchronos tail URL`` prints the events of a Server-Sent Events endpoint, reconnecting: a
  run's events URL from the run's first event (``--new-only``: only what comes next).

``python -m rxchronos`` runs the same command.

Each subcommand returns the process exit status: 0 when all went well, 2 for a usage error or an
error the library reports (a missing key, an unknown provider, an unreachable URL; one line on
stderr, no traceback), 130 after Ctrl-C.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    rxchronos ...
    0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import TextIO
from typing import TypeVar

import reactivex
from yarl import URL

from rxchronos import RxChronosError
from rxchronos import __version__
from rxchronos import operators as rxo
from rxchronos._loop import Ending
from rxchronos.demo._app import START_QUERY
from rxchronos.model import ChatRequest
from rxchronos.model import ChatResponse
from rxchronos.model import Message
from rxchronos.model import Provider
from rxchronos.model import provider_from_string
from rxchronos.sse import ServerSentEvent
from rxchronos.stream import sse_client

__all__ = ["main"]

DEFAULT_CHAT_MODEL = "scripted:echo"
DEFAULT_WORKERS = 2
MAX_WORKERS = 64
_T = TypeVar("_T")


class UsageError(RxChronosError):
    """A command-line argument that cannot work (reported in one line, exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rxchronos`` command with ``argv`` (default: ``sys.argv[1:]``); return the status.

    Example:
        >>> main(["chat", "Hello there", "--model", "scripted:echo"])
        Hello there
        0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        print("\nrxchronos: cancelled", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:  # the reader left, as in `rxchronos tail URL | head`
        _silence_stdout()
        return 1
    except RxChronosError as exc:
        print(f"rxchronos {args.command}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (captured, replaced)
        pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:399] + "…"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rxchronos",
        description="Reactive LLM streaming: model tokens, graph events and SSE as Observables.",
    )
    parser.add_argument("--version", action="version", version=f"rxchronos {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="serve the live demo page (or run it once in the terminal)",
        description="Serve a page that shows a sample agent graph running live: the diagram, a "
        "timeline of events, the answer token by token, tool calls as they stream, and an "
        "Approve button for its interrupt. Runs offline on a scripted model by default.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="port to serve on (8080; 0: any)")
    demo.add_argument(
        "--model",
        metavar="PROVIDER:MODEL",
        help="a real model, e.g. openai:gpt-4o-mini (its key from the environment); "
        "default: the offline scripted model",
    )
    demo.add_argument(
        "--once", action="store_true", help="run the graph once in the terminal, then exit"
    )
    demo.add_argument(
        "--delay",
        type=_seconds,
        default=None,
        help="seconds between the scripted model's deltas (0.05 on the page, 0.02 with --once)",
    )
    demo.add_argument(
        "--redis",
        metavar="URL",
        help="serve with several workers sharing Redis (events, their history) at URL, "
        "e.g. redis://127.0.0.1:6379/0; needs --postgres",
    )
    demo.add_argument(
        "--postgres",
        metavar="DSN",
        help="the PostgreSQL of the workers (checkpoints, leases), e.g. "
        "postgresql://postgres@127.0.0.1:5432/postgres; needs --redis",
    )
    demo.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"how many worker processes serve the port (with --redis and --postgres; "
        f"default {DEFAULT_WORKERS}, at most {MAX_WORKERS})",
    )
    demo.add_argument(
        "--namespace",
        default="rxchronos-demo",
        help="the Redis key prefix of the workers' runs (rxchronos-demo)",
    )
    demo.add_argument(
        "--schema",
        default="rxchronos_demo",
        help="the PostgreSQL schema of the workers' checkpoints (rxchronos_demo)",
    )
    demo.set_defaults(run=_demo, command="demo")

    chat = commands.add_parser(
        "chat",
        help="stream a model's answer to the terminal",
        description="Stream the answer to PROMPT as it arrives; tool calls are shown when "
        "complete, token usage at the end (on stderr). Ctrl-C cancels the request.",
    )
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument(
        "--model",
        metavar="PROVIDER:MODEL",
        default=os.environ.get("RXCHRONOS_MODEL") or DEFAULT_CHAT_MODEL,
        help=f"e.g. openai:gpt-4o-mini, mistral:mistral-small-latest (default: "
        f"$RXCHRONOS_MODEL or {DEFAULT_CHAT_MODEL}, an offline echo)",
    )
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int, default=None, help="limit the answer's length")
    chat.set_defaults(run=_chat, command="chat")

    tail = commands.add_parser(
        "tail",
        help="print the events of a Server-Sent Events endpoint",
        description="Print the events of an SSE endpoint, reconnecting with Last-Event-ID when "
        "the connection drops (like a browser's EventSource). A run's events URL is shown from "
        "the run's first event, then live; a finished run prints its events and `done`, then "
        "tail exits.",
    )
    tail.add_argument("url", help="the endpoint, e.g. http://127.0.0.1:8080/runs/<id>/events")
    start = tail.add_mutually_exclusive_group()
    start.add_argument(
        "--new-only",
        action="store_true",
        help=f"only the events published from now on (asks with ?{START_QUERY}=now)",
    )
    start.add_argument("--last-event-id", metavar="ID", help="resume after this event id")
    tail.add_argument("--json", action="store_true", help="print each event as one JSON line")
    tail.add_argument(
        "--retry",
        type=_seconds,
        default=1.0,
        help="seconds before reconnecting (1; the server may change it)",
    )
    tail.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help="failed connection attempts in a row before giving up (3)",
    )
    tail.set_defaults(run=_tail, command="tail")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


# --- demo -------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    """``rxchronos demo``: the live page, or ``--once`` in the terminal."""
    from rxchronos.demo import demo_provider

    shared = _check_workers(args)
    if args.once:
        delay = 0.02 if args.delay is None else args.delay
    else:
        delay = 0.05 if args.delay is None else args.delay
    provider = provider_from_string(args.model) if args.model else demo_provider(delay)
    if args.once:
        return asyncio.run(_demo_once(provider, sys.stdout))
    if shared:
        from rxchronos.demo._workers import WorkerConfig
        from rxchronos.demo._workers import serve_workers

        config = WorkerConfig(
            args.host,
            args.port,
            args.redis,
            args.postgres,
            args.namespace,
            args.schema,
            args.model,
            delay,
        )
        return serve_workers(config, args.workers or DEFAULT_WORKERS, sys.stdout)
    try:
        asyncio.run(_serve_demo(provider, args.host, args.port))
    except KeyboardInterrupt:
        print("rxchronos demo: stopped", flush=True)
    return 0


def _check_workers(args: argparse.Namespace) -> bool:
    """Whether the demo runs on several workers; ``UsageError`` for flags that cannot work."""
    shared = args.redis is not None or args.postgres is not None
    if not shared:
        if args.workers is not None:
            raise UsageError("--workers needs --redis and --postgres, which the workers share")
        return False
    if args.redis is None or args.postgres is None:
        given, missing = (
            ("--redis", "--postgres") if args.postgres is None else ("--postgres", "--redis")
        )
        raise UsageError(f"{given} needs {missing} too: the workers share both")
    if args.once:
        raise UsageError(
            "--once runs in the terminal: it takes no --redis, --postgres or --workers"
        )
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be 1 to {MAX_WORKERS}, got {args.workers}")
    from rxchronos.stream._redis import shown_url  # needs the optional redis-py

    url = URL(args.redis)
    if url.scheme not in ("redis", "rediss", "unix") or not (url.host or url.path):
        raise UsageError(
            f"--redis {shown_url(args.redis)!r} is not a redis://, rediss:// or unix:// URL"
        )
    if not args.postgres.strip():
        raise UsageError("--postgres must not be empty")
    return True


async def _demo_once(provider: Provider, out: TextIO) -> int:
    from rxchronos.demo import run_once

    async with provider:
        await run_once(provider, out=out)
    return 0


async def _serve_demo(provider: Provider, host: str, port: int) -> None:
    from aiohttp import web

    from rxchronos.demo import create_app

    runner = web.AppRunner(create_app(provider))
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise UsageError(
                f"cannot serve on {host}:{port} ({exc.strerror or exc}); "
                "try another --port, or --port 0 for any free one"
            ) from None
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"rxchronos demo: open http://{shown}:{bound_port}/  (Ctrl-C stops)", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


# --- chat -------------------------------------------------------------------------------------


def _chat(args: argparse.Namespace) -> int:
    """``rxchronos chat``: stream one answer."""
    provider = provider_from_string(args.model)
    messages = [Message(role="system", content=args.system)] if args.system else []
    messages.append(Message(role="user", content=args.prompt))
    request = ChatRequest(messages=tuple(messages), max_tokens=args.max_tokens)
    return asyncio.run(_stream_answer(provider, request, sys.stdout, sys.stderr))


async def _stream_answer(provider: Provider, request: ChatRequest, out: TextIO, err: TextIO) -> int:
    """Print the deltas' text as they arrive, then the finished tool calls and the usage."""
    deltas: list[ChatResponse] = []

    def show(delta: ChatResponse) -> None:
        deltas.append(delta)
        if delta.content:
            out.write(delta.content)
            out.flush()

    async with provider:
        await _each(provider.stream_chat(request), show)
    final: ChatResponse = await reactivex.from_iterable(deltas).pipe(rxo.collect_response())
    if final.content:
        out.write("\n")
    for call in final.tool_calls:
        print(f"[tool call] {call.name}({call.arguments})  id={call.id}", file=out)
    out.flush()
    if final.usage is not None:
        usage = final.usage
        stop = f", stop: {final.stop_reason}" if final.stop_reason else ""
        print(
            f"[usage] {usage.prompt_tokens} prompt + {usage.completion_tokens} completion = "
            f"{usage.total} tokens{stop}",
            file=err,
            flush=True,
        )
    return 0


# --- tail -------------------------------------------------------------------------------------


def _tail(args: argparse.Namespace) -> int:
    """``rxchronos tail``: print an SSE endpoint's events."""
    url = URL(args.url)
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(f"{args.url!r} is not an http:// or https:// URL")
    if args.max_retries < 0:
        raise UsageError(f"--max-retries must be 0 or more, got {args.max_retries}")
    if args.new_only:
        url = url.update_query({START_QUERY: "now"})
    events = sse_client(
        str(url),
        last_event_id=args.last_event_id,
        retry=args.retry,
        max_retries=args.max_retries,
    )
    return asyncio.run(_print_events(events, sys.stdout, as_json=args.json))


async def _print_events(
    events: reactivex.Observable[ServerSentEvent], out: TextIO, *, as_json: bool
) -> int:
    def show(event: ServerSentEvent) -> None:
        if as_json:
            line = json.dumps({"id": event.id, "event": event.event, "data": event.data})
        else:
            line = f"{event.id or '-'}  {event.event}  {event.data}"
        print(line, file=out, flush=True)

    await _each(events, show)
    return 0


async def _each(items: reactivex.Observable[_T], show: Callable[[_T], None]) -> None:
    """Call ``show`` with every item as it arrives, until ``items`` ends (its error is raised).

    No buffer in between: while the terminal (or the pipe) cannot take more, the loop waits, so
    the connection is not read either; a long replay never overflows anything.
    """
    ending = Ending()
    subscription = items.subscribe(show, ending.fail, ending.complete)
    try:
        await ending
    finally:
        subscription.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
