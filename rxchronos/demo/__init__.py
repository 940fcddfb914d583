"""The ``rxchronos demo``: a sample agent graph, served live to a web page or run headless.

``create_app()`` is an aiohttp application whose page shows a run of the sample agent as it
happens, over the library's own SSE route; ``run_once()`` runs the same graph in the terminal.
With a ``SharedBackend`` (Redis and PostgreSQL), several worker processes serve the same runs
(``rxchronos demo --redis URL --postgres DSN --workers N``).

Example:
    >>> from rxchronos.demo import create_app
    >>> app = create_app()  # then: aiohttp.web.run_app(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from rxchronos.demo._agent import DEMO_QUESTION
from rxchronos.demo._agent import build_agent
from rxchronos.demo._agent import demo_provider
from rxchronos.demo._agent import initial_state
from rxchronos.demo._app import create_app
from rxchronos.demo._once import describe_event
from rxchronos.demo._once import run_once
from rxchronos.demo._shared import SharedBackend

__all__ = [
    "DEMO_QUESTION",
    "SharedBackend",
    "build_agent",
    "create_app",
    "demo_provider",
    "describe_event",
    "initial_state",
    "run_once",
]
