"""Building a pydantic model from values that are already typed, without validation.

The one way rxchronos builds a model on a hot path (a graph run builds several ``StreamEvent``
per node). `constructor` returns a function that makes an instance of ``model`` from a
``dict`` holding a value for every field.

**Why not ``model_construct``.** pydantic's public ``model_construct`` handles defaults, aliases,
extra fields and private attributes for any input; for a frozen model whose every field is given
it costs about 3.3 µs per instance (pydantic 2.14.4), more than validating (1.3 µs). The function
here sets the four slots ``BaseModel`` declares (``__dict__``, ``__pydantic_fields_set__``,
``__pydantic_extra__``, ``__pydantic_private__``) through their own descriptors: 0.4 µs. In
``benchmarks/graph_overhead.py`` (quick runs, back to back) a node costs 8.5 µs without a store
this way and 21-25 µs with ``model_construct``: the runner builds four events per node, and the
shortcut takes more than half of the overhead away.

This steps outside pydantic's public API, so ``tests/test_construct.py`` checks, on whatever
pydantic is installed, that the slots are still there and that what it builds equals what
``model_construct`` builds: a release that breaks it fails that test loudly (first checked on
pydantic 2.14.4).

Example:
    >>> from pydantic import BaseModel, ConfigDict
    >>> class Point(BaseModel):
    ...     model_config = ConfigDict(frozen=True)
    ...     x: int
    ...     y: int
    >>> make = constructor(Point)
    >>> make({"x": 1, "y": 2}) == Point(x=1, y=2)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from rxchronos._errors import ArgumentTypeError

__all__ = ["constructor"]

_M = TypeVar("_M", bound=BaseModel)
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def constructor(model: type[_M]) -> Callable[[dict[str, Any]], _M]:
    """A function building ``model`` instances from a dict with a value for every field.

    The dict becomes the instance's ``__dict__`` (do not reuse it), every field counts as set, and
    nothing is validated: the caller vouches for the types. ``model`` must have no private
    attributes; a model that allows extra fields (``extra="allow"``, as the ``ag-ui-protocol``
    events do) gets none.

    Raises:
        TypeError: ``model`` has private attributes (they would need ``model_construct``), or
            pydantic no longer declares the slots this relies on.
    """
    if model.__private_attributes__:
        raise ArgumentTypeError(f"{model.__name__} has private attributes: use model_construct")
    allows_extra = model.model_config.get("extra") == "allow"
    setters = []
    for name in _SLOTS:
        slot = vars(BaseModel).get(name)
        if slot is None or not hasattr(slot, "__set__"):
            raise ArgumentTypeError(
                f"pydantic {pydantic.VERSION}'s BaseModel no longer declares the slot {name} "
                "that rxchronos._construct sets"
            )
        setters.append(slot.__set__)
    set_dict, set_fields_set, set_extra, set_private = setters
    fields_set = set(model.model_fields)
    new = object.__new__

    def build(values: dict[str, Any]) -> _M:
        instance = new(model)
        set_dict(instance, values)
        set_fields_set(instance, fields_set)  # shared: a frozen model never changes it
        set_extra(instance, None)
        set_private(instance, None)
        return instance

    def build_open(values: dict[str, Any]) -> _M:
        instance = new(model)
        set_dict(instance, values)
        set_fields_set(instance, fields_set)
        set_extra(instance, {})  # its own: such a model may take extra fields later
        set_private(instance, None)
        return instance

    return build_open if allows_extra else build
