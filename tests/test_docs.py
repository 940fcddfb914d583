"""The docs site builds, and every Python example in the README and the docs runs.

Each ```` ```python ```` block of ``README.md`` and ``docs/**/*.md`` runs on its own in a fresh
interpreter (this one's executable), in an empty temporary folder, offline, with a timeout; a
failing block is reported with its file, line and output. The blocks run a few at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is and its code."""

    path: str
    line: int
    code: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def python_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The ```` ```python ```` blocks of a Markdown file, with the line each starts on."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    relative = path.relative_to(root).as_posix()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, info = opening.group("fence"), opening.group("info").strip()
        end = i + 1
        while end < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence)}[ \t]*$", lines[end]):
            end += 1
        if info.split(" ", 1)[0].split("{", 1)[0] in ("python", "py"):
            code = textwrap.dedent("\n".join(lines[i + 1 : end]))
            blocks.append(Block(relative, i + 1, code + "\n"))
        i = end + 1
    return blocks


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


BLOCKS = [block for path in markdown_files() for block in python_blocks(path)]


def offline_env() -> dict[str, str]:
    """This environment without provider keys or proxies: examples must not need them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith(("_API_KEY", "_TOKEN")) and "PROXY" not in key.upper()
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_block(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "example.py"
    script.write_text(block.code, encoding="utf-8")
    try:
        return subprocess.run(
            [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(script)],
            cwd=folder,
            env=offline_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return subprocess.CompletedProcess(exc.cmd, -1, out, f"timed out after {TIMEOUT} s")


WORKERS = max(2, os.cpu_count() or 2)
# The first example test also runs the module fixture (every block, WORKERS at a time, each bounded
# by TIMEOUT): its limit is that worst case, not the suite's per-test 120 s, which a loaded
# machine exceeds while nothing hangs.
ALL_BLOCKS_TIMEOUT = TIMEOUT * -(-len(BLOCKS) // WORKERS) + 60


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every block's run, a few at a time (each in its own empty folder)."""
    folders = {block.where: tmp_path_factory.mktemp("example") for block in BLOCKS}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        runs = pool.map(lambda block: run_block(block, folders[block.where]), BLOCKS)
        return {block.where: run for block, run in zip(BLOCKS, runs, strict=True)}


def test_the_docs_have_examples() -> None:
    files = {block.path for block in BLOCKS}
    assert "README.md" in files and "docs/index.md" in files
    assert len(BLOCKS) >= 20


@pytest.mark.timeout(ALL_BLOCKS_TIMEOUT)
@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.where)
def test_example_runs(block: Block, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    run = results[block.where]
    if run.returncode != 0:
        pytest.fail(
            f"the example at {block.where} failed (exit {run.returncode}):\n"
            f"--- stdout ---\n{run.stdout[-3000:]}\n--- stderr ---\n{run.stderr[-3000:]}",
            pytrace=False,
        )


def test_block_extraction_finds_fences_and_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```python\nprint(1)\n```\n\n```bash\nls\n```\n\n"
        "- item\n\n    ```python\n    x = 2\n    ```\n\n````md\n```python\nnot code\n```\n````\n",
        encoding="utf-8",
    )
    blocks = python_blocks(page, root=tmp_path)
    assert [(b.where, b.code) for b in blocks] == [
        ("page.md:3", "print(1)\n"),
        ("page.md:13", "x = 2\n"),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site, built once with ``mkdocs build --strict``."""
    folder = tmp_path_factory.mktemp("site")
    env = {**offline_env(), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-5000:]}"
    return folder


def test_the_site_builds_in_strict_mode(site: Path) -> None:
    reference = (site / "reference" / "model.html").read_text(encoding="utf-8")
    assert "ScriptedProvider" in reference and "stream_chat" in reference
    assert '<span class="gp">&gt;&gt;&gt; </span>' in reference  # examples render as code
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in html, page  # offline: no web fonts
        assert "googletagmanager" not in html, page  # no analytics


_HREF = re.compile(r'href="([^"#?]*)(?:[#?][^"]*)?"')


def test_every_link_of_the_site_opens_a_file(site: Path) -> None:
    """Opened from ``file://`` (no server to turn a folder into its index.html), every link
    between pages still lands on a page, not on a directory listing."""
    checked = 0
    for page in site.rglob("*.html"):
        if page.name == "404.html":  # only a server shows it, with links from the site's root
            continue
        for target in _HREF.findall(page.read_text(encoding="utf-8")):
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):  # same page, or a URL
                continue
            path = (page.parent / target).resolve()
            assert path.is_file(), f"{page.relative_to(site)} links to {target!r}, not a file"
            checked += 1
    assert checked > 100


_ROLE = re.compile(
    r":(?:py:)?(?:class|mod|func|meth|attr|exc|data|obj|const|ref|term):(?:`|<code>)"
)


def test_the_api_reference_shows_no_raw_sphinx_roles(site: Path) -> None:
    """Docstrings cross-reference with autorefs links (``[`Broker`][rxchronos.stream.Broker]``),
    which the site renders as links; a Sphinx role such as ``:class:`Broker``` would show as it is.
    """
    leftovers = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in sorted((site / "reference").rglob("*.html"))
        for match in _ROLE.finditer(page.read_text(encoding="utf-8"))
    ]
    assert leftovers == []
    notebook = (site / "reference" / "notebook.html").read_text(encoding="utf-8")
    assert '<a class="autorefs autorefs-internal" title="' in notebook  # links render as links
    assert 'href="#rxchronos.notebook.live"' in notebook


def test_no_docstring_uses_a_sphinx_role() -> None:
    """Private modules' docstrings too: they are read in editors, and may be shown in the site."""
    leftovers = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "rxchronos").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r":(?:py:)?(?:class|mod|func|meth|attr|exc|data|obj|const|ref):`", line)
    ]
    assert leftovers == []


def test_the_role_check_finds_a_role(tmp_path: Path) -> None:
    page = "<p>Returns a :class:<code>Broker</code> and :meth:`close`.</p>"
    assert [m.group(0) for m in _ROLE.finditer(page)] == [":class:<code>", ":meth:`"]
