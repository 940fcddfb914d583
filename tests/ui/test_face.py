"""rxchronos.ui exports exactly its intended names, in RUF022 order."""

from __future__ import annotations

import rxchronos.ui


def test_ui_face_exports_exactly_the_intended_names() -> None:
    assert rxchronos.ui.__all__ == [
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
    ]  # sorted as ruff's RUF022 sorts: constants, classes, functions
    for name in rxchronos.ui.__all__:
        assert getattr(rxchronos.ui, name) is not None
