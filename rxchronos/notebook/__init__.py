"""Jupyter helpers: show streams live, draw a run's timeline and the graph diagram.

* [`live`][rxchronos.notebook.live] shows an Observable in a cell as it streams (tokens joined,
  events as lines), without blocking the kernel and without stacking subscriptions when the cell is
  re-run;
* [`timeline`][rxchronos.notebook.timeline] draws the events of a run as spans over time (SVG),
  one lane per task: parallel branches side by side, a subgraph's tasks under its node;
* [`show_graph`][rxchronos.notebook.show_graph] /
  [`graph_picture`][rxchronos.notebook.graph_picture] draw a compiled graph (SVG, with its Mermaid
  text): conditional edges dotted, parallel branches and joins thick (a join is a bar), a
  subgraph node a box holding its own graph (nested ones too).

Pictures are SVG made here, with no plotting library; they render offline. Displaying needs IPython
(``pip install 'rxchronos[notebook]'``); building pictures does not.

Example:
    >>> from rxchronos.notebook import timeline
    >>> picture = timeline([{"type": "node_start", "node_id": "a", "timestamp": 0.0},
    ...                     {"type": "node_end", "node_id": "a", "timestamp": 0.1}])
    >>> picture.svg.startswith("<svg")
    True
"""

from __future__ import annotations

from rxchronos.notebook._graph import GraphPicture
from rxchronos.notebook._graph import HasMermaid
from rxchronos.notebook._graph import graph_picture
from rxchronos.notebook._graph import show_graph
from rxchronos.notebook._ipython import NotebookExtraMissingError
from rxchronos.notebook._live import LiveView
from rxchronos.notebook._live import live
from rxchronos.notebook._live import live_views
from rxchronos.notebook._svg import SVGPicture
from rxchronos.notebook._timeline import timeline

__all__ = [
    "GraphPicture",
    "HasMermaid",
    "LiveView",
    "NotebookExtraMissingError",
    "SVGPicture",
    "graph_picture",
    "live",
    "live_views",
    "show_graph",
    "timeline",
]
