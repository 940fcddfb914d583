"""The one running-loop check shared by the async bridges and the model providers."""

from __future__ import annotations

import asyncio

import pytest
import reactivex

from rxchronos import RxChronosError
from rxchronos._loop import NoRunningLoopError
from rxchronos._loop import running_loop
from rxchronos.aio import from_async_iterable
from rxchronos.model import ChatRequest
from rxchronos.model import Message
from rxchronos.model import OpenAI


def test_without_a_loop_the_error_names_the_call_and_is_typed() -> None:
    with pytest.raises(NoRunningLoopError, match=r"^thing\.subscribe\(\) must run on") as caught:
        running_loop("thing.subscribe()")
    assert isinstance(caught.value, RxChronosError) and isinstance(caught.value, RuntimeError)


async def test_inside_a_loop_it_is_that_loop() -> None:
    assert running_loop("x") is asyncio.get_running_loop()


@pytest.mark.parametrize(
    ("source", "call"),
    [
        (from_async_iterable(lambda: reactivex.empty()), "from_async_iterable(...).subscribe()"),
        (
            OpenAI(api_key="sk-test-key", model="m").stream_chat(
                ChatRequest(messages=[Message(role="user", content="Hi")])
            ),
            "OpenAI.stream_chat()",
        ),
    ],
)
def test_bridges_and_providers_share_it(source: reactivex.Observable[object], call: str) -> None:
    with pytest.raises(NoRunningLoopError) as caught:
        source.subscribe()
    assert str(caught.value).startswith(call)
