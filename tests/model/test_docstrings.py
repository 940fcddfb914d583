"""The usage examples in the model docstrings run and show what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rxchronos.model

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(rxchronos.model.__path__, "rxchronos.model.")
)


@pytest.mark.parametrize("name", [*MODULES, "rxchronos.model"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
