"""The usage examples in the stream docstrings run and show what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rxchronos.stream

PACKAGE = rxchronos.stream.__name__
MODULES = [
    PACKAGE,
    *(m.name for m in pkgutil.iter_modules(rxchronos.stream.__path__, PACKAGE + ".")),
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
