"""The notebooks run from a clean kernel and show what their text says.

Each notebook is executed with nbclient in a child process (so the kernel's sockets live and die
there), in a fresh kernel of this interpreter: the kernel spec is written to a temporary folder, so
a user-level ``python3`` kernel pointing elsewhere is never used. The notebooks' folder is the
working directory. The assertions read the real outputs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.test_graph_picture import crossings

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "rxchronos-test"


RUN = """
import sys
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

source, target, kernels, kernel, cwd = sys.argv[1:]
notebook = nbformat.read(source, as_version=4)
specs = KernelSpecManager(kernel_dirs=[kernels], ensure_native_kernel=False)
manager = KernelManager(kernel_name=kernel, kernel_spec_manager=specs)
client = NotebookClient(notebook, km=manager, timeout=60, resources={"metadata": {"path": cwd}})
try:
    client.execute()
finally:
    nbformat.write(notebook, target)
"""


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one kernel spec: this interpreter running ipykernel."""
    folder = tmp_path_factory.mktemp("kernels")
    (folder / KERNEL).mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rxchronos tests",
        "language": "python",
    }
    (folder / KERNEL / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


def execute(name: str, kernels: Path) -> Any:
    """Run notebook ``name`` from a clean kernel; fail with the cell's error when one fails."""
    target = kernels / f"{name}.executed.ipynb"
    args = [str(NOTEBOOKS / f"{name}.ipynb"), str(target), str(kernels), KERNEL, str(NOTEBOOKS)]
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=240
    )
    if done.returncode != 0:
        pytest.fail(f"notebook {name} failed:\n{done.stderr[-4000:]}")
    return nbformat.read(target, as_version=4)


def text_of(cell: Any) -> str:
    """Everything a code cell showed as text: streams and the text/plain of displays."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def cell(notebook: Any, needle: str) -> Any:
    """The first code cell whose source contains ``needle``."""
    for candidate in notebook.cells:
        if candidate.cell_type == "code" and needle in candidate.source:
            return candidate
    raise AssertionError(f"no code cell contains {needle!r}")


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for code in (c for c in notebook.cells if c.cell_type == "code"):
        assert code.outputs == [] and code.execution_count is None, code.id


def test_model_streaming_notebook(kernels: Path) -> None:
    nb = execute("01_model_streaming", kernels)
    assert "'Streams '" in text_of(cell(nb, "What is a stream?"))
    assert "'TOKENS '" in text_of(cell(nb, "str.upper"))
    assert "Hello there." in text_of(cell(nb, "Hello there."))
    live_cell = cell(nb, "view = live(")
    assert "live() returned after 0 tokens" in text_of(live_cell)  # did not block the kernel
    # The updates of that output arrive while the next cell runs; nbclient drops them (a browser
    # applies them), but the next cell shows the same display again, which updates both.
    waited = cell(nb, "await view.wait()")
    assert "completed - The answer appears" in text_of(waited)
    (first,) = [o for o in live_cell.outputs if o.output_type == "display_data"]
    (again,) = [o for o in waited.outputs if o.output_type == "display_data"]
    for frame in (first, again):
        assert "completed · 14 items" in frame.data["text/plain"]
        assert "while the kernel stays free." in frame.data["text/html"]
    snapshots = text_of(cell(nb, "accumulate_tool_calls")).splitlines()
    assert len(snapshots) > 3  # the arguments filled in over several deltas
    assert snapshots[-1] == (
        '[(0, \'get_weather\', \'{"city": "Paris", "unit": "celsius"}\'), '
        "(1, 'get_time', '{\"tz\": \"Europe/Paris\"}')]"
    )
    assert "get_time {'tz': 'Europe/Paris'}" in text_of(cell(nb, "parse_arguments"))
    tokens = text_of(cell(nb, "async for")).splitlines()
    assert tokens[0] == "'async '" and len(tokens) == 9


def test_graph_streaming_notebook(kernels: Path) -> None:
    nb = execute("02_graph_streaming", kernels)
    diagram = cell(nb, "show_graph(graph)").outputs[0]
    assert diagram.data["image/svg+xml"].startswith("<svg")
    assert 'data-node="approve"' in diagram.data["image/svg+xml"]
    assert crossings(diagram.data["image/svg+xml"]) == []  # tool -> model goes round approve
    events = text_of(cell(nb, 'runner.stream("weather-1"'))
    assert "interrupt approve" in events and "completed" not in events
    assert "model_chunk events" in events
    updates = text_of(cell(nb, 'stream_mode("updates")')).splitlines()
    assert [u.split(" ->")[0] for u in updates] == ["plan", "model", "tool", "model"]
    assert "Checking the weather first." in text_of(cell(nb, 'stream_mode("messages")'))
    resumed = text_of(cell(nb, "await resumed.wait()"))
    assert "completed - It is sunny in Paris" in resumed
    assert "completed" in resumed and "node_end answer" in resumed
    assert "what-if completed (not approved)" in text_of(cell(nb, "fork_from"))
    picture = cell(nb, "timeline(resumed_events").outputs[0].data["image/svg+xml"]
    assert picture.count('class="span node_end"') == 6
    assert 'class="interrupt"' in picture and 'class="model_chunk"' in picture
    highlighted = cell(nb, 'highlight="approve"').outputs[0].data["image/svg+xml"]
    assert re.search(r'data-node="approve" [^>]*><rect [^>]*fill="#ffd54f"', highlighted)
    branching = cell(nb, "show_graph(branching)").outputs[0].data["image/svg+xml"]
    assert '<g class="group" data-node="research"' in branching  # the subgraph, boxed
    assert 'class="node join"' in branching and 'data-style="thick"' in branching
    assert crossings(branching) == []
    lanes_cell = cell(nb, "lanes per task")
    assert "'look_up:4:0', 'look_up:4:1'" in text_of(lanes_cell)
    lanes = re.findall(
        r'<text class="lane" [^>]*data-ns="([^"]*)">([^<]*)<',
        lanes_cell.outputs[-1].data["image/svg+xml"],
    )
    assert lanes == [
        ("", "plan"),
        ("", "physics"),
        ("", "history"),
        ("", "research"),
        ("research", "search"),
        ("research", "read"),
        ("", "write"),
        ("", "look_up [0] · call_sky"),
        ("", "look_up [1] · call_sun"),
    ]


def test_broker_and_sse_notebook(kernels: Path) -> None:
    nb = execute("03_broker_and_sse", kernels)
    assert "serving on http://127.0.0.1:" in text_of(cell(nb, "TCPSite"))
    watch = cell(nb, "watch = live(")
    assert "completed 3" in text_of(watch)
    frame = next(o for o in watch.outputs if o.output_type == "display_data")
    assert "node_start" in frame.data["text/plain"]  # updated while the run streamed
    watched = text_of(cell(nb, "await watch.wait()"))
    assert "completed - 9 events received" in watched and watched.endswith("done")
    replay = text_of(cell(nb, "take(3)"))
    assert "no gap, no duplicate" in replay
    assert "before the drop:" in replay and "after reconnect:" in replay
    picture = cell(nb, "as a client saw it").outputs[0].data["image/svg+xml"]
    assert picture.count('class="span node_end"') == 2
    assert "subscribers left: 0" in text_of(cell(nb, "app_runner.cleanup()"))


def test_make_notebooks_installs_jupyterlab_and_opens_the_folder() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    root = Path(__file__).resolve().parent.parent
    plan = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-W",
            "pyproject.toml",
            "notebooks",
        ],  # -n: print the commands only
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stderr
    commands = plan.stdout.splitlines()
    assert "-m pip install --quiet -e '.[jupyter]'" in commands[-2]
    assert commands[-1].endswith("/jupyter lab notebooks")
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "rxchronos[notebook]" in extras["jupyter"]
    assert any(dep.startswith("jupyterlab") for dep in extras["jupyter"])
