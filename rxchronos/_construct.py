"""Building an instance from values that are already typed, without ``__init__`` or validation.

The one way rxchronos builds an object on a hot path: a new instance (``object.__new__``) whose
``__slots__`` are set through their own descriptors, the way Python's data model stores a slot.
Two kinds of class use it:

* pydantic models, through `constructor` (a graph run builds several ``StreamEvent`` per node, a
  broker one ``Event`` per publish, a provider one delta per chunk);
* rxchronos' own frozen slotted dataclasses, through `slots_constructor` (a run writes a
  ``Checkpoint`` per step).

**Why not ``model_construct``.** pydantic's public ``model_construct`` handles defaults, aliases,
extra fields and private attributes for any input; for a frozen model whose every field is given
it costs about 3.3 µs per instance (pydantic 2.14.4), more than validating (1.3 µs). `constructor`
sets the four slots ``BaseModel`` declares (``__dict__``, ``__pydantic_fields_set__``,
``__pydantic_extra__``, ``__pydantic_private__``) through their own descriptors: 0.4 µs. In
``benchmarks/graph_overhead.py`` (full runs on one 2-CPU machine) a node costs 7.3 µs without a
store this way and 16.2 µs with ``model_construct`` (callgrind: 254k against 636k instructions
per run of the 3-node graph): the runner builds three events per node, four with a store, and
the shortcut takes more than half of the overhead away.

This steps outside pydantic's public API, so ``tests/test_construct.py`` checks, on whatever
pydantic is installed, that the slots are still there and that what it builds equals what
``model_construct`` builds: a release that breaks it fails that test loudly (first checked on
pydantic 2.14.4).

**Why not a frozen dataclass's ``__init__``.** It sets each field with ``object.__setattr__``
(that is how ``frozen=True`` gets past its own ``__setattr__``): about 1.6 µs for the ten fields
of a ``Checkpoint``, against 0.6 µs through the slots' descriptors. With a ``MemoryStore`` a
checkpoint is written after every node of ``benchmarks/graph_overhead.py``'s linear graph, where
a node costs about 11 µs in all: the ``__init__`` alone would be a tenth of it. The descriptors
are Python's own (``__slots__`` makes one per name), so nothing outside rxchronos is relied on.

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

import dataclasses
from collections.abc import Callable
from typing import Any
from typing import Protocol
from typing import TypeVar

import pydantic
from pydantic import BaseModel

from rxchronos._errors import ArgumentTypeError

__all__ = ["Builder", "constructor", "slots_constructor"]

_M = TypeVar("_M", bound=BaseModel)
_M_co = TypeVar("_M_co", bound=BaseModel, covariant=True)
_T = TypeVar("_T")
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


class Builder(Protocol[_M_co]):
    """What `constructor` returns: ``build(values)``, or ``build(values, private)`` for a model
    with private attributes."""

    def __call__(self, values: dict[str, Any], private: dict[str, Any] | None = None) -> _M_co:
        """A new instance whose ``__dict__`` is ``values`` (a value for every field) and whose
        private attributes are ``private`` (a value for every one of them)."""
        ...


def _slot_setters(owner: type, names: tuple[str, ...], what: str) -> list[Callable[..., None]]:
    """The ``__set__`` of each slot ``owner`` declares under ``names``.

    Raises:
        TypeError: one of them is not a slot of ``owner`` (``what`` names whose it should be).
    """
    setters = []
    for name in names:
        slot = vars(owner).get(name)
        if slot is None or not hasattr(slot, "__set__"):
            raise ArgumentTypeError(
                f"{what} does not declare the slot {name} that rxchronos._construct sets"
            )
        setters.append(slot.__set__)
    return setters


def constructor(model: type[_M], *, defaults: bool = False) -> Builder[_M]:
    """A function building ``model`` instances from a dict with a value for every field.

    The dict becomes the instance's ``__dict__`` (do not reuse it), every field counts as set, and
    nothing is validated: the caller vouches for the types. With ``defaults=True`` (for a model
    whose every field has a default) the dict may leave fields out: the instance gets a new dict
    of the defaults updated with it, in the model's field order (the given dict may then be
    reused), and the defaults are shared between instances, so that is only for a frozen model
    whose defaults are immutable. A model that allows extra
    fields (``extra="allow"``, as the ``ag-ui-protocol`` events do) gets none. A model with private
    attributes takes them as the second argument, a dict with a value for each (it becomes the
    instance's ``__pydantic_private__``, so do not reuse it either).

    Raises:
        TypeError: pydantic no longer declares the slots this relies on; ``defaults=True`` for a
            model that is not frozen, has a required field, a default factory, private attributes
            or extra fields;
            when building, a model with private attributes is given none.

    Example:
        >>> from pydantic import BaseModel, ConfigDict, PrivateAttr
        >>> class Cached(BaseModel):
        ...     x: int
        ...     _text: str | None = PrivateAttr(default=None)
        >>> item = constructor(Cached)({"x": 1}, {"_text": "1"})
        >>> item.x, item._text
        (1, '1')
        >>> class Span(BaseModel):
        ...     model_config = ConfigDict(frozen=True)
        ...     start: int = 0
        ...     end: int = -1
        >>> constructor(Span, defaults=True)({"start": 3})
        Span(start=3, end=-1)
    """
    set_dict, set_fields_set, set_extra, set_private = _slot_setters(
        BaseModel, _SLOTS, f"pydantic {pydantic.VERSION}'s BaseModel"
    )
    fields_set = set(model.model_fields)
    new = object.__new__
    extra: dict[str, Any] | None = {} if model.model_config.get("extra") == "allow" else None
    name = model.__name__
    # the defaults are merged in the builder's own call: on a provider's hot path (a delta per
    # chunk) a second function call would cost more than the merge
    base = _shared_defaults(model) if defaults else None

    if model.__private_attributes__:

        def build_private(values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
            if private is None:
                raise ArgumentTypeError(f"{name} has private attributes: pass their values")
            instance = new(model)
            set_dict(instance, values)
            set_fields_set(instance, fields_set)  # shared: a frozen model never changes it
            set_extra(instance, None if extra is None else {})
            set_private(instance, private)
            return instance

        return build_private

    if extra is not None:

        def build_open(values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
            instance = new(model)
            set_dict(instance, values)
            set_fields_set(instance, fields_set)
            set_extra(instance, {})  # its own: such a model may take extra fields later
            set_private(instance, None)
            return instance

        return build_open

    if base is not None:

        def build_defaults(values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
            instance = new(model)
            set_dict(instance, base | values)
            set_fields_set(instance, fields_set)  # shared: a frozen model never changes it
            set_extra(instance, None)
            set_private(instance, None)
            return instance

        return build_defaults

    def build(values: dict[str, Any], private: dict[str, Any] | None = None) -> _M:
        instance = new(model)
        set_dict(instance, values)
        set_fields_set(instance, fields_set)  # shared: a frozen model never changes it
        set_extra(instance, None)
        set_private(instance, None)
        return instance

    return build


def _shared_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The defaults of ``model``'s fields that have one, for `constructor`'s ``defaults=True``.

    Raises:
        TypeError: they cannot be shared between instances (see `constructor`).
    """
    name = model.__name__
    fields = model.model_fields
    if not model.model_config.get("frozen"):
        raise ArgumentTypeError(f"{name} is not frozen: its defaults cannot be shared")
    if model.__private_attributes__ or model.model_config.get("extra") == "allow":
        raise ArgumentTypeError(f"{name} has private attributes or extra fields: pass every value")
    if any(field.default_factory is not None for field in fields.values()):
        raise ArgumentTypeError(f"{name} has a default factory: its defaults cannot be shared")
    required = [key for key, field in fields.items() if field.is_required()]
    if required:
        raise ArgumentTypeError(f"{name} has fields without a default: {', '.join(required)}")
    return {key: field.default for key, field in fields.items()}  # in the model's field order


def slots_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A function building instances of the frozen slotted dataclass ``cls`` from a value for
    every field, positionally in field order, without its ``__init__``.

    Nothing is checked and no default is filled in: the caller passes every field. What it builds
    equals what ``cls(...)`` builds with the same values.

    Raises:
        TypeError: ``cls`` is not a ``@dataclass(frozen=True, slots=True)``, or has a field that
            is not set by ``__init__`` or a ``__post_init__`` (which would be skipped).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True, slots=True)
        ... class Point:
        ...     x: int
        ...     y: int = 0
        >>> slots_constructor(Point)(1, 2) == Point(1, 2)
        True
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise ArgumentTypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not field.init for field in fields) or hasattr(cls, "__post_init__"):
        raise ArgumentTypeError(
            f"{cls.__name__} sets fields outside __init__'s arguments: use its __init__"
        )
    names = tuple(field.name for field in fields)
    if {"_new", "_cls", "_instance"} & set(names):
        raise ArgumentTypeError(f"{cls.__name__} has a field named _new, _cls or _instance")
    setters = _slot_setters(cls, names, cls.__name__)
    # one call per slot, unrolled (as dataclasses writes its __init__): a loop over the setters
    # would cost more than the __init__ it replaces
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update((f"set_{name}", setter) for name, setter in zip(names, setters, strict=True))
    source = (
        f"def build({', '.join(names)}):\n    _instance = _new(_cls)\n"
        + "".join(f"    set_{name}(_instance, {name})\n" for name in names)
        + "    return _instance\n"
    )
    exec(source, namespace)  # the source is made of the dataclass's field names
    build: Callable[..., _T] = namespace["build"]
    return build
