"""The package faces export exactly the intended names, sorted, and every error has one root."""

from __future__ import annotations

import importlib
import inspect

import pytest

import rxchronos

EXPECTED_TOP_LEVEL = {
    "ArgumentTypeError",
    "BrokerClosedError",
    "BrokerError",
    "CheckpointNotFoundError",
    "CheckpointStoreError",
    "FrameTooLargeError",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "IncompleteStreamError",
    "InvalidArgumentError",
    "NoRunningLoopError",
    "NodeError",
    "NothingToResumeError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "ReadOnlyStateError",
    "RoutingError",
    "RunCancelledError",
    "RunError",
    "RxChronosError",
    "SSEClientError",
    "SSEConnectionError",
    "SSEHTTPError",
    "SSEProtocolError",
    "SessionBusyError",
    "SlowConsumerError",
    "StateSerializationError",
    "ToolArgumentsError",
    "__version__",
    "from_async_iterable",
    "from_producer",
    "to_async_iterator",
}

PUBLIC_MODULES = [
    "rxchronos",
    "rxchronos.aio",
    "rxchronos.sse",
    "rxchronos.operators",
    "rxchronos.model",
    "rxchronos.graph",
    "rxchronos.stream",
    "rxchronos.stream.web",
    "rxchronos.notebook",
]

# Names the README and the guides use from each face (a subset: faces may export more).
DOCUMENTED_NAMES = {
    "rxchronos.model": {
        "Message", "ChatRequest", "ChatResponse", "ToolCall", "ToolDefinition", "FunctionDef",
        "Usage", "StopReason", "Provider", "OpenAI", "AzureOpenAI", "OpenAICompatible",
        "Anthropic", "Gemini", "Mistral", "Ollama", "FallbackProvider", "ScriptedProvider",
        "provider_from_string",
    },
    "rxchronos.graph": {
        "StateGraph", "Runner", "StreamEvent", "EventType", "RunState", "RunStatus",
        "MemoryStore", "SQLiteStore", "emit", "START", "END", "ReadOnlyStateError",
    },
    "rxchronos.stream": {"Broker", "Event", "sse_client"},
    "rxchronos.operators": {
        "of_type", "text", "accumulate_tool_calls", "collect_response", "coalesce_text",
        "stream_mode",
    },
    "rxchronos.aio": {"to_async_iterator", "from_async_iterable", "from_producer"},
    "rxchronos.sse": {"SSEDecoder", "ServerSentEvent", "encode_event", "encode_comment"},
}  # fmt: skip


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_top_level_exports_exactly_the_intended_names() -> None:
    assert set(rxchronos.__all__) == EXPECTED_TOP_LEVEL


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"


@pytest.mark.parametrize(("name", "promised"), sorted(DOCUMENTED_NAMES.items()))
def test_documented_names_are_exported(name: str, promised: set[str]) -> None:
    module = importlib.import_module(name)
    missing = promised - set(module.__all__)
    assert not missing, f"{name} lacks {sorted(missing)}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_exported_exception_derives_from_the_root(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, rxchronos.RxChronosError), f"{name}.{attr}"


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert rxchronos.__version__ == version("rxchronos")
