"""The ``rxchronos`` command: help, version, and the offline demo end to end."""

from __future__ import annotations

import asyncio
import doctest
import io

import pytest

import rxchronos.cli
from rxchronos._demo_sse import DEMO_TOKENS, run_sse_demo
from rxchronos.cli import main


def test_help_lists_the_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: rxchronos" in out
    assert "demo" in out


def test_demo_help_shows_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--once" in out and "--host" in out and "--port" in out


def test_usage_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["demo", "--port", "not-a-number"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_demo_once_prints_every_event_as_it_arrives(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("serving a Server-Sent Events stream on http://127.0.0.1:")
    token_lines = [line for line in lines if "token" in line and "event" in line]
    assert token_lines == [
        f"  event {n:>2}  token {token!r}" for n, token in enumerate(DEMO_TOKENS, start=1)
    ]
    assert lines[-1] == f"received {len(DEMO_TOKENS)} tokens: {''.join(DEMO_TOKENS)!r}"


def test_demo_without_once_says_what_is_coming(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "web demo arrives with the web layer" in out
    assert "received 9 tokens" in out


async def test_demo_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    out = io.StringIO()
    assert await run_sse_demo(delay=0, out=out) == 0
    for _ in range(100):
        if not asyncio.all_tasks() - before:
            break
        await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()
    assert out.getvalue().count("token ") == len(DEMO_TOKENS)


def test_docstring_examples() -> None:
    result = doctest.testmod(rxchronos.cli)
    assert result.attempted > 0
    assert result.failed == 0
