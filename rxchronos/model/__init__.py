"""Model streaming: every provider's answer as a cold Observable of ``ChatResponse`` deltas.

Types (:class:`Message`, :class:`ChatRequest`, :class:`ChatResponse`, :class:`ToolCall`, ...), the
:class:`Provider` protocol, the providers, and the errors they raise. The operators that fold the
deltas (``text()``, ``accumulate_tool_calls()``, ``collect_response()``, ``coalesce_text()``) are in
:mod:`rxchronos.operators`.

Adding a provider: subclass ``rxchronos.model._http.HTTPProvider`` (``name``,
``default_base_url``, ``_request()`` building the request, and a pure dialect parser built on
``rxchronos.model._dialect.ParserBase``), export it here, and register it for
``provider_from_string`` in ``rxchronos.model._registry``.

Example:
    >>> from rxchronos.model import ChatRequest, Message, OpenAI
    >>> provider = OpenAI(api_key="sk-test", model="gpt-4o")
    >>> request = ChatRequest(messages=[Message(role="user", content="Hi")])
    >>> chunks = provider.stream_chat(request)   # cold: nothing is sent before subscribe
"""

from __future__ import annotations

from rxchronos.model._anthropic import Anthropic
from rxchronos.model._cohere import Cohere
from rxchronos.model._compatible import (
    DeepSeek,
    Fireworks,
    Groq,
    OpenAICompatible,
    OpenRouter,
    Perplexity,
    Together,
)
from rxchronos.model._errors import (
    IncompleteStreamError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderStreamError,
    ProviderTimeoutError,
    ToolArgumentsError,
)
from rxchronos.model._fallback import FallbackProvider
from rxchronos.model._gemini import Gemini
from rxchronos.model._ollama import Ollama
from rxchronos.model._openai import AzureOpenAI, Mistral, OpenAI
from rxchronos.model._provider import Provider
from rxchronos.model._registry import provider_from_string, register_provider
from rxchronos.model._retry import RetryPolicy, Timeouts
from rxchronos.model._scripted import ScriptedProvider, ScriptedReply
from rxchronos.model._types import (
    ChatRequest,
    ChatResponse,
    FunctionDef,
    Message,
    Role,
    StopReason,
    ToolCall,
    ToolDefinition,
    Usage,
)

__all__ = [
    "Anthropic",
    "AzureOpenAI",
    "ChatRequest",
    "ChatResponse",
    "Cohere",
    "DeepSeek",
    "FallbackProvider",
    "Fireworks",
    "FunctionDef",
    "Gemini",
    "Groq",
    "IncompleteStreamError",
    "Message",
    "Mistral",
    "Ollama",
    "OpenAI",
    "OpenAICompatible",
    "OpenRouter",
    "Perplexity",
    "Provider",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "RetryPolicy",
    "Role",
    "ScriptedProvider",
    "ScriptedReply",
    "StopReason",
    "Timeouts",
    "Together",
    "ToolArgumentsError",
    "ToolCall",
    "ToolDefinition",
    "Usage",
    "provider_from_string",
    "register_provider",
]
