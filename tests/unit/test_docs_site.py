"""The docs site as a reader sees it: the HTML ``mkdocs build --strict`` writes, parsed.

``test_docs.py`` proves the build passes and its checks can fail; a page can still pass them
and render wrong (a fence the Markdown does not accept turns a shell script into a paragraph).
These tests read the built pages: no literal fence in any rendered text, every command of the
README walkthrough inside a ``<pre>``; in the API reference, every public construct and option
class with a signature and a Parameters table of all its parameters, every module showing
exactly its ``__all__``, no name starting with ``_``; every link of the site resolving. The
last ones render the pages in Chromium's headless shell (``scripts/setup-system.sh`` installs
it) and measure them: a code block of at most 100 columns fits a 1440 px wide window, an
identifier in a table stays on one line.

The site is built once for the module. ``CONSTRUCTS_RUST_DOCS_SITE=<dir>`` checks a site built
elsewhere instead (e.g. one of an older commit, to see these tests fail on it).
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import types
import typing
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

import pytest

import constructs_rust

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


#: The public modules and their reference pages.
REFERENCE = {
    "constructs_rust.function": "reference/function",
    "constructs_rust.container": "reference/container",
    "constructs_rust.extension": "reference/extension",
    "constructs_rust.build_cache": "reference/build_cache",
    "constructs_rust.options": "reference/options",
    "constructs_rust.errors": "reference/errors",
    "constructs_rust.testing": "reference/testing",
}
#: A name as it shows in rendered text starting with ``_`` (``_Name``, ``__init__``, ``x._y``);
#: ``CONSTRUCTS_RUST_CACHE`` and ``${LAMBDA_RUNTIME_DIR}`` are not.
_PRIVATE_NAME = re.compile(r"(?<![\w$])_\w*[A-Za-z]\w*")


PARAMETER_COLUMNS = ("Name", "Type", "Description", "Default")


def doc_object(document: Element, identifier: str) -> Element:
    """The ``<div class="doc doc-object">`` whose heading has this id (``module.Class``)."""
    headings = [e for e in document.iter() if e.attrs.get("id") == identifier]
    assert len(headings) == 1, f"{identifier}: {len(headings)} headings"
    node = headings[0].parent
    assert node is not None and "doc-object" in node.classes, identifier
    return node


def own_children(obj: Element, tag: str, cls: Optional[str] = None) -> List[Element]:
    """Elements of ``obj`` that belong to it, not to a member's nested doc-object."""
    found = []
    for element in obj.find_all(tag, cls):
        owner = next(a for a in element.ancestors() if "doc-object" in a.classes)
        if owner is obj:
            found.append(element)
    return found


def signature_of(obj: Element) -> str:
    signatures = own_children(obj, "div", "doc-signature")
    return " ".join(signatures[0].text().split()) if signatures else ""


def parameters_table(
    obj: Element, title_text: str = "Parameters:", columns: Tuple[str, ...] = PARAMETER_COLUMNS
) -> List[Tuple[str, ...]]:
    """The rows (name, type, description, default) of the object's own Parameters table;
    [] when it has none, or one with other columns."""
    for title in own_children(obj, "span", "doc-section-title"):
        if title.text().strip() != title_text:
            continue
        assert title.parent is not None and title.parent.parent is not None
        siblings = [c for c in title.parent.parent.children if isinstance(c, Element)]
        table = siblings[siblings.index(title.parent) + 1]
        header = tuple(th.text().strip() for th in table.find_all("th"))
        if table.tag != "table" or header != columns:
            return []
        return [
            tuple(" ".join(td.text().split()) for td in row.find_all("td"))
            for row in table.find_all("tr", "doc-section-item")
        ]
    return []


def private_names(document: Element) -> List[str]:
    """Names starting with ``_`` in the page's text, and the full paths of the types it links
    or annotates (a ``title`` such as ``constructs_rust._construct.wiring.RustFunctionWiring``,
    shown as ``Bases: RustFunctionWiring``) with a segment starting with ``_``."""
    content = article(document)
    found = {m for _, text in content.text_nodes() for m in _PRIVATE_NAME.findall(text)}
    for element in content.iter():
        title = element.attrs.get("title", "").split()
        if element.tag in ("a", "span") and title:
            path = title[-1].strip("()")
            if any(part.startswith("_") for part in path.split(".")):
                found.add(path)
    return sorted(found)


def constructor_parameters(cls: type) -> List[str]:
    """What a user passes: ``__init__``'s parameters as the reference names them
    (``**function_options``), or a TypedDict's keys."""
    if hasattr(cls, "__total__"):  # a TypedDict
        return list(cls.__annotations__)
    names = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        prefix = "**" if parameter.kind is inspect.Parameter.VAR_KEYWORD else ""
        names.append(prefix + parameter.name)
    return names[1:]  # self


def _hints(obj: object) -> Dict[str, object]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # a name only imported for type checkers: nothing to learn from it
        return {}


def _classes_in(hint: object) -> Iterator[type]:
    if inspect.isclass(hint):
        yield hint
    for argument in typing.get_args(hint):
        yield from _classes_in(argument)


def handled_names(module: types.ModuleType) -> set:
    """``__all__``, plus the classes defined in the module under a public name that a public
    function or method returns or a public attribute of such a class holds (a user gets them:
    ``invoke_streaming`` returns a ``StreamResult``)."""
    names = set(module.__all__)
    work = [getattr(module, name) for name in module.__all__]
    while work:
        obj = work.pop()
        hints: List[object] = []
        if inspect.isfunction(obj):
            hints.append(_hints(obj).get("return"))
        elif inspect.isclass(obj):
            hints += _hints(obj).values()
            for name, member in vars(obj).items():
                if isinstance(member, property):
                    member = member.fget
                if not name.startswith("_") and inspect.isfunction(member):
                    hints.append(_hints(member).get("return"))
        for hint in hints:
            for cls in _classes_in(hint):
                name = cls.__name__
                if name in names or name.startswith("_") or getattr(module, name, None) is not cls:
                    continue
                if cls.__module__ == module.__name__:
                    names.add(name)
                    work.append(cls)
    return names


def public_classes() -> List[type]:
    """Every public class of a public module (``handled_names``) a user constructs, reads or
    passes keywords of: those defining their own ``__init__`` (constructs, option and result
    dataclasses, the base error) and TypedDicts; not enums."""
    found = []
    for module_name in REFERENCE:
        module = importlib.import_module(module_name)
        for name in sorted(handled_names(module)):
            obj = getattr(module, name)
            if (
                not inspect.isclass(obj)
                or issubclass(obj, enum.Enum)
                or not obj.__module__.startswith(module_name)
            ):
                continue
            if "__init__" in vars(obj) or hasattr(obj, "__total__"):
                found.append(obj)
    return found


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


def test_the_reference_covers_every_construct_and_option_class():
    names = {cls.__name__ for cls in public_classes()}
    assert {"RustFunction", "RustDockerImageFunction", "RustExtension", "RustBuildCache"} <= names
    assert {"BundlingOptions", "UrlOptions", "GitSource", "ExtraFile", "FunctionOptions"} <= names
    assert names <= set(constructs_rust.__all__) | {"InvokeResult", "HttpResponse"} | {
        c.__name__ for c in public_classes() if c.__module__.startswith("constructs_rust.testing")
    }


@pytest.mark.parametrize("cls", public_classes(), ids=lambda cls: cls.__name__)
def test_a_public_class_has_a_signature_and_a_parameters_table(site, cls):
    module = cls.__module__
    if module not in REFERENCE:  # testing.HttpResponse is defined in testing.events
        module = module.rsplit(".", 1)[0]
    obj = doc_object(page(site, REFERENCE[module]), f"{module}.{cls.__name__}")
    parameters = constructor_parameters(cls)
    if not hasattr(cls, "__total__"):
        signature = signature_of(obj)
        assert signature.startswith(f"{cls.__name__}("), signature
        for name in parameters:
            assert re.search(rf"(?<![\w*]){re.escape(name)}\b", signature), (name, signature)
    if hasattr(cls, "__total__"):  # a TypedDict's keys: none is required, none has a default
        rows = parameters_table(obj, "Keys:", PARAMETER_COLUMNS[:3])
    else:
        rows = parameters_table(obj)
    assert [row[0] for row in rows] == parameters, rows
    assert all(row[1] for row in rows), f"a type for every parameter: {rows}"
    if not module.startswith("constructs_rust.testing") and not hasattr(cls, "__total__"):
        # (the pass-through keys are aws-cdk-lib's, described in its reference; testing's
        # docstrings do not describe every parameter yet)
        assert all(row[2] for row in rows), f"a description for every parameter: {rows}"


@pytest.mark.parametrize("module_name", REFERENCE)
def test_a_module_page_shows_exactly_its_public_names(site, module_name):
    """No internal helper (``plan_rust_code``, ``render_*_dockerfile``, ``redact``), and
    every public name, the classes its functions return included."""
    document = page(site, REFERENCE[module_name])
    module = importlib.import_module(module_name)
    shown = {
        e.attrs["id"][len(module_name) + 1 :]
        for e in document.iter()
        if "doc-heading" in e.classes
        and e.attrs.get("id", "").startswith(module_name + ".")
        and "." not in e.attrs["id"][len(module_name) + 1 :]
    }
    assert shown == handled_names(module)


def test_internal_members_of_public_classes_are_not_shown(site):
    """``BundlingOptions`` methods the build calls (mkdocs.yml's ``hidden`` list)."""
    document = page(site, "reference/options")
    ids = {e.attrs.get("id") for e in document.iter()}
    for member in ("validate", "container_environment", "effective_flags", "volume_copy", "musl"):
        assert f"constructs_rust.options.BundlingOptions.{member}" not in ids
    assert "constructs_rust.options.BundlingOptions" in ids


@pytest.mark.parametrize("name", ["reference/constructs_rust", *REFERENCE.values()])
def test_no_private_name_in_the_reference(site, name):
    assert private_names(page(site, name)) == []


def test_the_reference_nav_is_named_after_what_users_import(site):
    nav = page(site, "").find_all("nav", "md-nav--primary")[0]
    titles = {
        a.attrs["href"]: " ".join(a.text().split())
        for a in nav.find_all("a")
        if a.attrs.get("href", "").startswith("reference/")
    }
    assert titles["reference/function/"] == "RustFunction"
    assert titles["reference/container/"] == "RustDockerImageFunction"
    assert titles["reference/extension/"] == "RustExtension"
    assert titles["reference/build_cache/"] == "RustBuildCache"
    assert "BundlingOptions" in titles["reference/options/"]


def _links(site: Path, path: Path) -> Iterator[Tuple[str, Path, str]]:
    """(href, target file, fragment) of every link of a page to another place in the site."""
    for a in parse(path.read_text()).find_all("a"):
        href = a.attrs.get("href", "")
        parts = urlsplit(href)
        if not href or parts.scheme or parts.netloc or href.startswith("mailto:"):
            continue
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if target.is_dir():
            target = target / "index.html"
        yield href, target, parts.fragment


def test_every_link_of_the_site_resolves(site):
    """mkdocs checks the links of Markdown pages; not those in rendered docstrings."""
    broken = []
    ids: Dict[Path, set] = {}
    for path in all_pages(site):
        for href, target, fragment in _links(site, path):
            if not target.is_file():
                broken.append(f"{path.relative_to(site)}: {href}")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = {
                        e.attrs["id"] for e in parse(target.read_text()).iter() if "id" in e.attrs
                    }
                if fragment not in ids[target]:
                    broken.append(f"{path.relative_to(site)}: {href}")
    assert broken == []


def _section(document: Element, heading: str) -> List[Element]:
    """The elements of the page's content after the ``<h2>`` titled ``heading``, up to the
    next ``<h2>``."""
    children = [c for c in article(document).children if isinstance(c, Element)]
    titles = [" ".join(c.text().replace("\u00b6", "").split()) for c in children]
    start = next(i for i, c in enumerate(children) if c.tag == "h2" and titles[i] == heading)
    end = next((i for i in range(start + 1, len(children)) if children[i].tag == "h2"), None)
    return children[start + 1 : end]


def h2_titles(document: Element) -> List[str]:
    return [
        " ".join(h.text().replace("\u00b6", "").split()) for h in article(document).find_all("h2")
    ]


def home_sample(site: Path) -> str:
    blocks = [
        pre.text()
        for element in _section(page(site, ""), "A stack in ten lines")
        for pre in element.find_all("pre")
    ]
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_the_home_page_says_why_with_measured_claims(site):
    why = _section(page(site, ""), "Why this one")
    claims = [li for element in why for li in element.find_all("li")]
    assert len(claims) >= 3, "three measured claims"
    benchmarks = " ".join(article(page(site, "benchmarks")).text().split())
    for claim in claims:
        links = [a.attrs.get("href", "") for a in claim.find_all("a")]
        assert "benchmarks/" in links, claim.text()
        numbers = re.findall(r"\d+(?:\.\d+)? s\b", claim.text())
        assert numbers, f"a measured number: {claim.text()}"
        for number in numbers:
            assert number in benchmarks, f"{number} is not on the benchmarks page"


def test_the_home_page_installs_and_shows_a_ten_line_sample(site):
    home = page(site, "")
    assert h2_titles(home)[:3] == ["Why this one", "Install", "A stack in ten lines"]
    install = [pre.text() for e in _section(home, "Install") for pre in e.find_all("pre")]
    assert any("pip install" in text and "rustup target add" in text for text in install)
    sample = home_sample(site)
    assert len(sample.strip().splitlines()) <= 10 and "RustFunction(" in sample


def test_the_home_page_sample_synthesizes(site, tmp_path):
    """The sample, run as a user runs it (python app.py) next to a Cargo workspace, with
    bundling skipped for its stack (as ``cdk ls`` does: no cargo build here)."""
    sample = home_sample(site)
    readme_first = (
        parse((site / "getting-started" / "index.html").read_text()).find_all("pre")[0].text()
    )
    assert readme_first == sample, "Getting started opens with the same sample"
    (tmp_path / "lambdas").mkdir()
    (tmp_path / "lambdas" / "Cargo.toml").write_text("[workspace]\nmembers = []\n")
    (tmp_path / "app.py").write_text(sample)
    out = tmp_path / "cdk.out"
    env = {
        **os.environ,
        "CDK_OUTDIR": str(out),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []}),
    }
    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    template = json.loads((out / "MyService.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::Lambda::Function") == 2 and types.count("AWS::Lambda::Url") == 1
    runtimes = {
        r["Properties"]["Runtime"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert runtimes == {"provided.al2023"}


def test_getting_started_leads_with_the_users_own_app(site):
    document = page(site, "getting-started")
    assert [" ".join(h.text().replace("\u00b6", "").split()) for h in document.find_all("h1")] == [
        "Getting started"
    ]
    titles = h2_titles(document)
    assert titles[0] == "Use it in your own app", titles


def test_the_example_app_page_names_every_stack(site):
    tree = ast.parse((ROOT / "stacks" / "__init__.py").read_text())
    stacks = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert len(stacks) == 10
    text = article(page(site, "example-app")).text()
    assert [name for name in stacks if name not in text] == []


def test_every_page_has_its_canonical_url_in_the_sitemap(site):
    sitemap = (site / "sitemap.xml").read_text()
    for path in all_pages(site):
        links = [
            e.attrs["href"]
            for e in parse(path.read_text()).find_all("link")
            if e.attrs.get("rel") == "canonical"
        ]
        assert len(links) == 1, path
        relative = path.parent.relative_to(site).as_posix()
        assert links[0].endswith("/" if relative == "." else f"/{relative}/"), links
        assert f"<loc>{links[0]}</loc>" in sitemap, links[0]


def _css_rule(css: str, selector: str) -> Dict[str, str]:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert match, selector
    return dict(
        (k.strip(), v.strip())
        for k, v in (d.split(":", 1) for d in match.group(1).split(";") if ":" in d)
    )


def test_every_page_loads_the_stylesheet_that_keeps_identifiers_whole(site):
    for path in all_pages(site):
        sheets = [
            (path.parent / e.attrs["href"]).resolve()
            for e in parse(path.read_text()).find_all("link")
            if e.attrs.get("rel") == "stylesheet" and "extra.css" in e.attrs.get("href", "")
        ]
        assert sheets == [(site / "stylesheets" / "extra.css").resolve()], path
    css = re.sub(r"/\*.*?\*/", "", (site / "stylesheets" / "extra.css").read_text(), flags=re.S)
    table_code = _css_rule(css, ".md-typeset table:not([class]) code")
    assert table_code["word-break"] == "normal" and table_code["overflow-wrap"] == "normal"
    width = float(_css_rule(css, ".md-grid")["max-width"].removesuffix("rem"))
    # Material: two 12.1rem sidebars, 1.2rem content margins; code at 0.85 x 0.8rem with
    # 1.1765em padding; a monospace character is 0.6em wide.
    assert width - 2 * 12.1 - 2 * 1.2 >= 0.68 * (100 * 0.6 + 2 * 1.1765), width


# ----------------------------------------------------------------------------- rendered

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium (scripts/setup-system.sh installs chromium-headless-shell)",
)
#: Run in the page once its fonts are ready: every code block of the content (its longest line,
#: scroll width, visible width) and every identifier in a table (its number of line boxes).
_MEASURE = """
(async () => {
  await document.fonts.ready;
  const out = {pre: [], identifiers: []};
  for (const code of document.querySelectorAll("article pre > code")) {
    const lines = code.textContent.replace(/\\n$/, "").split("\\n");
    const longest = Math.max(...lines.map((line) => line.length));
    out.pre.push([longest, code.scrollWidth, code.clientWidth, lines[0].slice(0, 60)]);
  }
  for (const code of document.querySelectorAll("article table code")) {
    const text = code.textContent;
    if (/^[A-Za-z_][\\w.]*$/.test(text)) {
      out.identifiers.push([text, code.getClientRects().length]);
    }
  }
  document.body.setAttribute("data-measure", JSON.stringify(out));
})();
"""


def measure(path: Path, width: int, profile: Path) -> Dict[str, list]:
    """What ``_MEASURE`` reports for the page in a window ``width`` px wide."""
    copy = path.with_name("measure.html")  # next to the page: its stylesheets resolve
    copy.write_text(path.read_text().replace("</body>", f"<script>{_MEASURE}</script></body>"))
    try:
        proc = subprocess.run(
            [
                str(CHROMIUM),
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                f"--window-size={width},900",
                "--virtual-time-budget=10000",
                "--dump-dom",
                copy.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        copy.unlink()
    found = re.search(r'data-measure="([^"]*)"', proc.stdout)
    assert found, proc.stderr[-2000:]
    return json.loads(unescape(found.group(1)))


@pytest.fixture(scope="module")
def rendered(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[Tuple[str, int], dict]:
    """(page, window width) -> measurements, for every page at 1440 and 1024 px."""
    profile = tmp_path_factory.mktemp("chromium")
    return {
        (str(path.parent.relative_to(site)), width): measure(path, width, profile)
        for path in all_pages(site)
        for width in (1440, 1024)
    }


@needs_chromium
def test_100_column_code_fits_a_1440_px_window(rendered):
    scrolling = [
        (name, block)
        for (name, width), found in rendered.items()
        if width == 1440
        for block in found["pre"]
        if block[0] <= 100 and block[1] > block[2]
    ]
    blocks = sum(len(found["pre"]) for (_, width), found in rendered.items() if width == 1440)
    assert blocks > 100, "the pages' code blocks were measured"
    assert scrolling == []


@needs_chromium
@pytest.mark.parametrize("width", [1440, 1024])
def test_identifiers_in_tables_stay_on_one_line(rendered, width):
    identifiers = [
        (name, text)
        for (name, w), found in rendered.items()
        if w == width
        for text, boxes in found["identifiers"]
    ]
    assert len(identifiers) > 50 and ("settings", "CONSTRUCTS_RUST_REMOTE_CACHE") in identifiers
    broken = [
        (name, text, boxes)
        for (name, w), found in rendered.items()
        if w == width
        for text, boxes in found["identifiers"]
        if boxes > 1
    ]
    assert broken == []


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
