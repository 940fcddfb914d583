"""How a graph node reports a tool result, so that both frontend protocols can show it.

A model call inside a node streams its tool calls on its own (``model_chunk`` events). The result
of running the tool is the node's business: [`report_tool_result`][rxchronos.ui.report_tool_result]
announces it with ``emit()``, as a ``custom`` event named
[`TOOL_RESULT_EVENT`][rxchronos.ui.TOOL_RESULT_EVENT]. The ``rxchronos.ui`` operators turn that
event into ``tool-output-available`` (AI SDK) or ``TOOL_CALL_RESULT`` (AG-UI).
"""

from __future__ import annotations

from typing import Any

from rxchronos._errors import ArgumentTypeError
from rxchronos.graph import emit

__all__ = ["TOOL_RESULT_EVENT", "report_tool_result"]

TOOL_RESULT_EVENT = "tool_result"
"""The ``emit()`` name of a tool result: ``data`` is ``{"tool_call_id": ..., "output": ...}``."""


def report_tool_result(tool_call_id: str, output: Any) -> None:
    """Report, from inside a graph node, what the tool call ``tool_call_id`` returned.

    Call it from the node that runs the tool, once per call, with the id the model gave the call
    (``ToolCall.id``). Outside a run it does nothing, like ``emit()``.

    Args:
        tool_call_id: the id of the model's tool call.
        output: what the tool returned: any JSON value (a string, a dict, ...).

    Raises:
        TypeError: ``tool_call_id`` is not a non-empty string, or ``output`` is not JSON.

    Example:
        >>> import asyncio
        >>> from rxchronos.graph import Runner, StateGraph
        >>> from rxchronos.ui import report_tool_result
        >>> def tool(state):
        ...     report_tool_result("call_1", {"rain_chance": 0.7})
        ...     return {}
        >>> graph = StateGraph("g").add_node("tool", tool).set_entry_point("tool").compile()
        >>> runner = Runner(graph)
        >>> seen = []
        >>> _ = runner.events.subscribe(seen.append)
        >>> _ = asyncio.run(runner.run("s1", {}))
        >>> [e.data["data"] for e in seen if e.type == "custom"]
        [{'tool_call_id': 'call_1', 'output': {'rain_chance': 0.7}}]
    """
    if not isinstance(tool_call_id, str) or not tool_call_id:
        raise ArgumentTypeError(
            f"report_tool_result() needs the model's tool call id (a non-empty str), "
            f"got {tool_call_id!r}"
        )
    emit(TOOL_RESULT_EVENT, {"tool_call_id": tool_call_id, "output": output})
