"""IPython is optional (the ``notebook`` extra): import it only when a display is needed."""

from __future__ import annotations

from types import ModuleType

from rxchronos._errors import RxChronosError

__all__ = ["NotebookExtraMissingError", "ipython_display"]


class NotebookExtraMissingError(RxChronosError, ImportError):
    """IPython is not installed; install the extra: ``pip install 'rxchronos[notebook]'``."""


def ipython_display() -> ModuleType:
    """The ``IPython.display`` module, or a clear error saying which extra to install."""
    try:
        import IPython.display as display_module
    except ImportError as exc:
        raise NotebookExtraMissingError(
            "rxchronos.notebook needs IPython to display in a notebook; install it with "
            "pip install 'rxchronos[notebook]'"
        ) from exc
    return display_module
