"""Frontends: the AI SDK's UI message stream (``useChat``) and AG-UI (CopilotKit, ``HttpAgent``).

Operators that spell a model stream or a graph run in each protocol
([`to_ui_message_stream`][rxchronos.ui.to_ui_message_stream], [`to_ag_ui`][rxchronos.ui.to_ag_ui]),
the aiohttp routes that speak each protocol's request side and keep every frame in a broker so that
a client that reconnects resumes where it was ([`add_chat_route`][rxchronos.ui.add_chat_route],
[`add_ag_ui_route`][rxchronos.ui.add_ag_ui_route]), and the convention for a graph node reporting a
tool result ([`report_tool_result`][rxchronos.ui.report_tool_result]).

Needs the ``ui`` extra: ``pip install 'rxchronos[ui]'``.

Example:
    >>> from aiohttp import web
    >>> from rxchronos.model import ScriptedProvider
    >>> from rxchronos.ui import add_chat_route
    >>> app = web.Application()
    >>> _ = add_chat_route(app, "/api/chat", provider=ScriptedProvider(["Hello!"]))
"""

from __future__ import annotations

from rxchronos.ui._ag_ui import CITATION_EVENT
from rxchronos.ui._ag_ui import to_ag_ui
from rxchronos.ui._ag_ui_route import ReopenedRun
from rxchronos.ui._ag_ui_route import add_ag_ui_route
from rxchronos.ui._chat_route import add_chat_route
from rxchronos.ui._tool_result import TOOL_RESULT_EVENT
from rxchronos.ui._tool_result import report_tool_result
from rxchronos.ui._ui_stream import UI_MESSAGE_STREAM_HEADERS
from rxchronos.ui._ui_stream import UIPart
from rxchronos.ui._ui_stream import to_ui_message_stream

__all__ = [
    "CITATION_EVENT",
    "TOOL_RESULT_EVENT",
    "UI_MESSAGE_STREAM_HEADERS",
    "ReopenedRun",
    "UIPart",
    "add_ag_ui_route",
    "add_chat_route",
    "report_tool_result",
    "to_ag_ui",
    "to_ui_message_stream",
]
