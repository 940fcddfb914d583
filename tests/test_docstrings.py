"""Every module's docstring examples run and show what they claim; public entry points have one."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import rxchronos

MODULES = sorted(
    [
        "rxchronos",
        *(name for _, name, _ in pkgutil.walk_packages(rxchronos.__path__, "rxchronos.")),
    ]
)
# Modules whose examples must not vanish unnoticed (doctest passes a module with none): every
# public module, and the private ones whose examples document a tested behaviour.
MUST_HAVE_EXAMPLES = {
    *(name for name in MODULES if not any(part.startswith("_") for part in name.split("."))),
    "rxchronos._ndjson",
    "rxchronos._queue",
    "rxchronos.demo._agent",
    "rxchronos.demo._app",
    "rxchronos.demo._once",
}
FACES = [
    "rxchronos.aio",
    "rxchronos.graph",
    "rxchronos.model",
    "rxchronos.notebook",
    "rxchronos.operators",
    "rxchronos.sse",
    "rxchronos.stream",
    "rxchronos.stream.web",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
    if name in MUST_HAVE_EXAMPLES:
        assert result.attempted > 0, f"{name} has no docstring examples"


def test_the_modules_that_must_have_examples_exist() -> None:
    assert MUST_HAVE_EXAMPLES <= set(MODULES), MUST_HAVE_EXAMPLES - set(MODULES)


def _entry_points() -> list[tuple[str, str]]:
    points = []
    for face in FACES:
        module = importlib.import_module(face)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj) or (
                inspect.isclass(obj) and not issubclass(obj, BaseException)
            ):
                points.append((face, attr))
    return points


@pytest.mark.parametrize(("face", "attr"), _entry_points())
def test_public_entry_points_have_a_docstring_with_an_example(face: str, attr: str) -> None:
    doc = inspect.getdoc(getattr(importlib.import_module(face), attr)) or ""
    assert doc, f"{face}.{attr} has no docstring"
    assert "Example" in doc or ">>>" in doc, f"{face}.{attr}'s docstring shows no usage example"
