"""Model streaming: every provider's answer as a cold Observable of ``ChatResponse`` deltas.

The types ([Message][rxchronos.model.Message], [ChatRequest][rxchronos.model.ChatRequest],
[ChatResponse][rxchronos.model.ChatResponse], [ToolCall][rxchronos.model.ToolCall], ...), the
[Provider][rxchronos.model.Provider] protocol, the providers, and the errors they raise. The
operators that select and fold the deltas (``text()``, ``reasoning()``, ``server_tool_calls()``,
``citations()``, ``accumulate_tool_calls()``, ``collect_response()``, ``coalesce_text()``, ...)
are in ``rxchronos.operators``; the [content parts][rxchronos.model.ContentPart] keep apart what
an answer holds besides its text.

Adding a provider: subclass [HTTPProvider][rxchronos.model.HTTPProvider] (``name``,
``default_base_url``, and the hooks ``build_request``, ``new_parser`` and ``parse_answer``) with a
[StreamParser][rxchronos.model.StreamParser] for its wire dialect, and register it for
``provider_from_string`` with [register_provider][rxchronos.model.register_provider].

Example:
    >>> from rxchronos.model import ChatRequest, Message, OpenAI
    >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
    >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
    >>> chunks = provider.stream_chat(request)   # cold: nothing is sent before subscribe
"""

from __future__ import annotations

from rxchronos.model._anthropic import Anthropic
from rxchronos.model._cohere import Cohere
from rxchronos.model._dialect import (
    MalformedData,
    StreamParser,
    ToolSlots,
    as_count,
    as_list,
    as_object,
    as_text,
    build_turns,
    error_info,
    load_json,
    sampling_fields,
    tool_names,
)
from rxchronos.model._errors import (
    ErrorKind,
    IncompleteStreamError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderRedirectError,
    ProviderStreamError,
    ProviderTimeoutError,
    ToolArgumentsError,
)
from rxchronos.model._fallback import FallbackProvider
from rxchronos.model._gemini import Gemini
from rxchronos.model._http import HTTPRequest, RetryPolicy, Timeouts
from rxchronos.model._ollama import Ollama
from rxchronos.model._openai import (
    VLLM,
    AzureOpenAI,
    DeepSeek,
    Fireworks,
    Groq,
    Mistral,
    OpenAI,
    OpenAICompatible,
    OpenRouter,
    Perplexity,
    Together,
)
from rxchronos.model._provider import HTTPOptions, HTTPProvider
from rxchronos.model._registry import provider_from_string, register_provider
from rxchronos.model._responses import AzureOpenAIResponses, OpenAIResponses
from rxchronos.model._scripted import ScriptedProvider, ScriptedReply
from rxchronos.model._types import (
    REASONING_BUDGETS,
    ChatRequest,
    ChatResponse,
    CitationPart,
    ContentPart,
    FunctionDef,
    Message,
    Provider,
    ReasoningEffort,
    ReasoningPart,
    Role,
    ServerToolCallPart,
    ServerToolResultPart,
    StopReason,
    TextPart,
    ToolCall,
    ToolDefinition,
    UnknownPart,
    Usage,
)

__all__ = [
    "REASONING_BUDGETS",
    "VLLM",
    "Anthropic",
    "AzureOpenAI",
    "AzureOpenAIResponses",
    "ChatRequest",
    "ChatResponse",
    "CitationPart",
    "Cohere",
    "ContentPart",
    "DeepSeek",
    "ErrorKind",
    "FallbackProvider",
    "Fireworks",
    "FunctionDef",
    "Gemini",
    "Groq",
    "HTTPOptions",
    "HTTPProvider",
    "HTTPRequest",
    "IncompleteStreamError",
    "MalformedData",
    "Message",
    "Mistral",
    "Ollama",
    "OpenAI",
    "OpenAICompatible",
    "OpenAIResponses",
    "OpenRouter",
    "Perplexity",
    "Provider",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderRedirectError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "ReasoningEffort",
    "ReasoningPart",
    "RetryPolicy",
    "Role",
    "ScriptedProvider",
    "ScriptedReply",
    "ServerToolCallPart",
    "ServerToolResultPart",
    "StopReason",
    "StreamParser",
    "TextPart",
    "Timeouts",
    "Together",
    "ToolArgumentsError",
    "ToolCall",
    "ToolDefinition",
    "ToolSlots",
    "UnknownPart",
    "Usage",
    "as_count",
    "as_list",
    "as_object",
    "as_text",
    "build_turns",
    "error_info",
    "load_json",
    "provider_from_string",
    "register_provider",
    "sampling_fields",
    "tool_names",
]
