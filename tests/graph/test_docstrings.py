"""The usage examples in the graph docstrings run and show what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rxchronos.graph

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(rxchronos.graph.__path__, "rxchronos.graph.")
)


@pytest.mark.parametrize("name", [*MODULES, "rxchronos.graph"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
