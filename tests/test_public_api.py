"""The package face exports exactly the intended names, sorted."""

from __future__ import annotations

import rxchronos

EXPECTED = {
    "RxChronosError",
    "SlowConsumerError",
    "__version__",
}


def test_exported_names_are_exactly_the_intended_ones() -> None:
    assert set(rxchronos.__all__) == EXPECTED


def test_all_is_sorted() -> None:
    assert list(rxchronos.__all__) == sorted(rxchronos.__all__)


def test_every_exported_name_exists() -> None:
    for name in rxchronos.__all__:
        assert hasattr(rxchronos, name), name


def test_every_error_derives_from_the_base() -> None:
    assert issubclass(rxchronos.SlowConsumerError, rxchronos.RxChronosError)
