"""The docs site as a reader sees it: the HTML ``mkdocs build --strict`` writes, parsed.

``test_docs.py`` proves the build passes and its checks can fail; a page can still pass them
and render wrong (a fence the Markdown does not accept turns a shell script into a paragraph).
These tests read the built pages: no literal fence in any rendered text, every command of the
README walkthrough inside a ``<pre>``.

The site is built once for the module. ``CONSTRUCTS_RUST_DOCS_SITE=<dir>`` checks a site built
elsewhere instead (e.g. one of an older commit, to see these tests fail on it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from ..conftest import ROOT
from ..integration.test_readme_own_app import readme_blocks

SITE_VARIABLE = "CONSTRUCTS_RUST_DOCS_SITE"
FENCE = "`" * 3
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


# ----------------------------------------------------------------------------- a small DOM


@dataclass
class Element:
    tag: str
    attrs: Dict[str, str]
    children: List["Element | str"] = field(default_factory=list)
    parent: Optional["Element"] = None

    @property
    def classes(self) -> List[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator["Element"]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: Optional[str] = None, cls: Optional[str] = None) -> List["Element"]:
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    def ancestors(self) -> Iterator["Element"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text_nodes(self) -> Iterator[tuple["Element", str]]:
        """(parent element, text) of every text node below this element."""
        for child in self.children:
            if isinstance(child, str):
                yield self, child
            else:
                yield from child.text_nodes()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.current.children.append(
            Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        )

    def handle_endtag(self, tag: str) -> None:
        node: Optional[Element] = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:  # a stray end tag closes nothing
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def article(document: Element) -> Element:
    """The page's content (Material's ``<article class="md-content__inner">``)."""
    found = document.find_all("article")
    assert len(found) == 1, "one article per page"
    return found[0]


def in_pre(element: Element) -> bool:
    return element.tag == "pre" or any(a.tag == "pre" for a in element.ancestors())


# ----------------------------------------------------------------------------- checks


def literal_fences(document: Element) -> List[str]:
    """Rendered texts of the page's content that show a Markdown fence, code blocks included
    (a fence Markdown did not close turns the prose after it into code with the marker)."""
    return [text.strip()[:80] for _, text in article(document).text_nodes() if FENCE in text]


def lines_outside_pre(document: Element, lines: List[str]) -> List[str]:
    """Those of ``lines`` not found in the text of any ``<pre>`` of the page's content."""
    blocks = [pre.text() for pre in article(document).find_all("pre")]
    return [line for line in lines if not any(line in block for block in blocks)]


# ----------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(SITE_VARIABLE)
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def page(site: Path, name: str) -> Element:
    path = site / name / "index.html" if name else site / "index.html"
    return parse(path.read_text())


def all_pages(site: Path) -> List[Path]:
    pages = sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)
    assert len(pages) > 20, pages
    return pages


def walkthrough_lines() -> List[str]:
    """Every non-blank line of the README's own-app blocks (what the doc test runs)."""
    blocks = readme_blocks((ROOT / "README.md").read_text())
    return [line.strip() for _, _, body in blocks for line in body.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the tests


def test_no_page_shows_a_literal_fence(site):
    shown = {
        str(p.relative_to(site)): found
        for p in all_pages(site)
        if (found := literal_fences(parse(p.read_text())))
    }
    assert not shown, shown


def test_every_walkthrough_command_renders_inside_a_code_block(site):
    lines = walkthrough_lines()
    assert len(lines) > 40 and "npx cdk synth --quiet" in lines
    assert lines_outside_pre(page(site, "getting-started"), lines) == []


def test_the_walkthrough_files_are_titled_with_their_path(site):
    titles = [e.text() for e in page(site, "getting-started").find_all("span", "filename")]
    files = [file for _, file, _ in readme_blocks((ROOT / "README.md").read_text()) if file]
    assert titles == files


# ----------------------------------------------------------------------------- the checks fail


def test_the_checks_see_a_garbled_walkthrough():
    garbled = parse(
        "<article><p>"
        + FENCE
        + "sh own-app\nnpx cdk synth --quiet</p><pre><code>prose\n"
        + FENCE
        + "</code></pre><pre><code>cargo lambda new</code></pre></article>"
    )
    assert len(literal_fences(garbled)) == 2
    assert lines_outside_pre(garbled, ["npx cdk synth --quiet", "cargo lambda new"]) == [
        "npx cdk synth --quiet"
    ]
    assert in_pre(garbled.find_all("code")[-1]) and not in_pre(garbled.find_all("p")[0])
