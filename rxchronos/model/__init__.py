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
from rxchronos.model._dialect import MalformedData
from rxchronos.model._dialect import StreamParser
from rxchronos.model._dialect import ToolSlots
from rxchronos.model._dialect import as_count
from rxchronos.model._dialect import as_list
from rxchronos.model._dialect import as_object
from rxchronos.model._dialect import as_text
from rxchronos.model._dialect import build_turns
from rxchronos.model._dialect import error_info
from rxchronos.model._dialect import load_json
from rxchronos.model._dialect import sampling_fields
from rxchronos.model._dialect import tool_names
from rxchronos.model._errors import ErrorKind
from rxchronos.model._errors import IncompleteStreamError
from rxchronos.model._errors import ProviderConfigError
from rxchronos.model._errors import ProviderConnectionError
from rxchronos.model._errors import ProviderError
from rxchronos.model._errors import ProviderHTTPError
from rxchronos.model._errors import ProviderRedirectError
from rxchronos.model._errors import ProviderStreamError
from rxchronos.model._errors import ProviderTimeoutError
from rxchronos.model._errors import ToolArgumentsError
from rxchronos.model._fallback import FallbackProvider
from rxchronos.model._gemini import Gemini
from rxchronos.model._http import HTTPRequest
from rxchronos.model._http import RetryPolicy
from rxchronos.model._http import Timeouts
from rxchronos.model._ollama import Ollama
from rxchronos.model._openai import VLLM
from rxchronos.model._openai import AzureOpenAI
from rxchronos.model._openai import DeepSeek
from rxchronos.model._openai import Fireworks
from rxchronos.model._openai import Groq
from rxchronos.model._openai import Mistral
from rxchronos.model._openai import OpenAI
from rxchronos.model._openai import OpenAICompatible
from rxchronos.model._openai import OpenRouter
from rxchronos.model._openai import Perplexity
from rxchronos.model._openai import Together
from rxchronos.model._provider import HTTPOptions
from rxchronos.model._provider import HTTPProvider
from rxchronos.model._registry import provider_from_string
from rxchronos.model._registry import register_provider
from rxchronos.model._responses import AzureOpenAIResponses
from rxchronos.model._responses import OpenAIResponses
from rxchronos.model._scripted import ScriptedProvider
from rxchronos.model._scripted import ScriptedReply
from rxchronos.model._types import REASONING_BUDGETS
from rxchronos.model._types import ChatRequest
from rxchronos.model._types import ChatResponse
from rxchronos.model._types import CitationPart
from rxchronos.model._types import ContentPart
from rxchronos.model._types import FunctionDef
from rxchronos.model._types import Message
from rxchronos.model._types import Provider
from rxchronos.model._types import ReasoningEffort
from rxchronos.model._types import ReasoningPart
from rxchronos.model._types import Role
from rxchronos.model._types import ServerToolCallPart
from rxchronos.model._types import ServerToolResultPart
from rxchronos.model._types import StopReason
from rxchronos.model._types import TextPart
from rxchronos.model._types import ToolCall
from rxchronos.model._types import ToolDefinition
from rxchronos.model._types import UnknownPart
from rxchronos.model._types import Usage

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
