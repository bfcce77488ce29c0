"""The documentation site builds with ``mkdocs build --strict``, API reference included.

Needs the docs tools (the ``docs`` extra, also in ``test``); skipped when mkdocs is not installed.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs tools are not installed: pip install -e '.[docs]'")
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"
    return site_dir


def pages() -> list[Path]:
    """Every Markdown page under docs/, relative to it (the example package is not a page)."""
    return sorted(p.relative_to(DOCS) for p in DOCS.rglob("*.md") if "examples" not in p.relative_to(DOCS).parts)


def html_of(page: Path) -> Path:
    """Where mkdocs (use_directory_urls) writes a page: foo.md -> foo/index.html."""
    stem = page.with_suffix("")
    return stem.parent / "index.html" if stem.name == "index" else stem / "index.html"


def text(path: Path) -> str:
    """A page's text without tags, with its whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))).split())


def nav_pages(entry) -> set[str]:
    if isinstance(entry, str):
        return {entry}
    if isinstance(entry, list):
        return set().union(*map(nav_pages, entry))
    if isinstance(entry, dict):
        return set().union(*map(nav_pages, entry.values()))
    return set()


def test_every_page_is_built(site: Path) -> None:
    missing = [str(page) for page in pages() if not (site / html_of(page)).is_file()]
    assert not missing, f"pages without html: {missing}"
    assert (site / "reference" / "j9330_rules" / "index.html").is_file()


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = nav_pages(config["nav"])
    assert {page.as_posix() for page in pages()} <= in_nav


def test_api_reference_holds_the_docstrings(site: Path) -> None:
    from j9330_rules import Editor

    page = text(site / "reference" / "j9330_rules" / "index.html")
    first_paragraph = inspect.getdoc(Editor.check).split("\n\n")[0]
    expected = " ".join(first_paragraph.replace("``", "").split())
    assert expected in page
    assert "check_many" in page and "EditorConfig" in page
    for module in ("model", "config", "readers", "writers", "hookspecs", "units"):
        assert (site / "reference" / module / "index.html").is_file(), module


def test_sphinx_markup_is_rendered(site: Path) -> None:
    """Roles become links or code, and ``#:`` comments document their attributes."""
    for page in (site / "reference").rglob("index.html"):
        assert not re.search(r":(class|func|meth|mod|data|attr|exc):<code>", page.read_text(encoding="utf-8")), page
    assert "What this Editor was built from" in text(site / "reference" / "j9330_rules" / "index.html")


def test_site_leaves_out_sources(site: Path) -> None:
    assert (site / "notebook.ipynb").is_file()  # getting-started.md links it as a download
    assert not (site / "examples").exists()
    assert not list(site.rglob("*.py"))
