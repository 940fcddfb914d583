"""An SVG picture that shows itself in Jupyter: [`SVGPicture`][rxchronos.notebook.SVGPicture].

Pictures are plain SVG text built in Python (no plotting library), so they render offline, in
exported HTML, and in any front end that understands ``image/svg+xml``. IPython is not needed to
build one: Jupyter calls ``_repr_svg_`` / ``_repr_html_`` itself.
"""

from __future__ import annotations

from html import escape

from rxchronos._errors import InvalidArgumentError

__all__ = ["SVGPicture", "attr", "text_width"]

FONT = "font-family:ui-sans-serif,system-ui,sans-serif"
"""The font stack every picture uses (no web font is fetched)."""


class SVGPicture:
    """An SVG document that Jupyter displays as a picture.

    Attributes:
        svg: the SVG document text (``<svg ...>...</svg>``).
        caption: optional text shown under the picture in HTML output (escaped).

    Example:
        >>> p = SVGPicture('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
        >>> p._repr_svg_().startswith("<svg")
        True
    """

    __slots__ = ("caption", "svg")

    def __init__(self, svg: str, *, caption: str | None = None) -> None:
        if not isinstance(svg, str) or not svg.lstrip().startswith("<svg"):
            raise InvalidArgumentError("SVGPicture needs the text of an <svg> element")
        self.svg = svg
        self.caption = caption

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        if self.caption is None:
            return self.svg
        return f"<figure>{self.svg}<figcaption>{escape(self.caption)}</figcaption></figure>"

    def save(self, path: str) -> None:
        """Write the SVG document to ``path`` (UTF-8).

        Example:
            >>> import pathlib, tempfile
            >>> p = SVGPicture('<svg xmlns="http://www.w3.org/2000/svg"/>')
            >>> target = pathlib.Path(tempfile.mkdtemp(), "p.svg")
            >>> p.save(str(target))
            >>> target.read_text(encoding="utf-8")[:4]
            '<svg'
        """
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.svg)

    def __repr__(self) -> str:
        return f"SVGPicture({len(self.svg)} characters of SVG)"


def attr(value: object) -> str:
    """``value`` as text safe inside a quoted XML attribute or element."""
    return escape(str(value), quote=True)


def text_width(text: str, size: float) -> float:
    """A rough width of ``text`` at font ``size`` (no font metrics: 0.6 em per character)."""
    return len(text) * size * 0.6
