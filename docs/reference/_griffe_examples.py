"""A griffe extension for the API reference: read ``Example:`` sections as examples.

The docstrings follow the Google style with a singular ``Example:`` heading, which griffe would
render as an admonition of plain text; as an ``Examples:`` section the ``>>>`` lines render as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` in every docstring before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
