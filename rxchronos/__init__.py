"""rxchronos: reactive LLM streaming.

Everything that streams is a :mod:`reactivex` Observable: a model's answer token by token
(:mod:`rxchronos.model`), the events of a running state graph (:mod:`rxchronos.graph`), and the
events a broker fans out to browsers over Server-Sent Events (:mod:`rxchronos.stream`). Compose them
with ``.pipe(...)`` and the operators in :mod:`rxchronos.operators`.
"""

from __future__ import annotations

from rxchronos._errors import RxChronosError, SlowConsumerError

__version__ = "0.1.0"

__all__ = [
    "RxChronosError",
    "SlowConsumerError",
    "__version__",
]
