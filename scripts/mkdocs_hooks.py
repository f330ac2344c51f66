"""mkdocs hook: README.md and CONTRIBUTING.md are pages of the site too, written once.

Both files live at the top of the repository (GitHub shows them there), so their links say
``docs/bundling.md``; the docs pages link back with ``../README.md``. The site serves them as
``getting-started.md`` and ``contributing.md`` and this hook rewrites those link targets, so
``mkdocs build --strict`` checks every link of the two files like any other page's.

The README's walkthrough blocks carry the doc test's tag in their info string (```` ```sh
own-app ```` and ```` ```python own-app file=my_service/stack.py ````, read by
``tests/integration/test_readme_own_app.py``). GitHub takes the first word as the language and
ignores the rest; pymdownx.superfences accepts only ``key="value"`` options after it and would
not see a fence at all (the blocks became paragraphs). The hook gives superfences the language
alone, and the file as the block's ``title``; the README itself keeps the tags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

#: top-level file -> its page in the site
TOP_LEVEL = {"README.md": "getting-started.md", "CONTRIBUTING.md": "contributing.md"}
_LINK = re.compile(r"\]\((?P<target>[^)\s#]*)(?P<rest>[^)]*)\)")
#: the doc test's fence tag: ```sh own-app, ```python own-app file=path/in/app.py
_OWN_APP_FENCE = re.compile(
    r"^(?P<fence>`{3,})(?P<lang>\w+) own-app(?: file=(?P<file>\S+))?[ \t]*$", re.M
)


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    for source, page in TOP_LEVEL.items():
        files.append(File.generated(config, page, abs_src_path=str(root / source)))
    return files


def _rewrite(target: str, *, top_level: bool) -> str:
    if top_level:
        if target in TOP_LEVEL:
            return TOP_LEVEL[target]
        if target.startswith("docs/"):
            return target[len("docs/") :]
        return target
    depth, name = 0, target
    while name.startswith("../"):
        depth, name = depth + 1, name[3:]
    if depth and name in TOP_LEVEL:  # docs/x.md: ../README.md; docs/reference/x.md: ../../
        return "../" * (depth - 1) + TOP_LEVEL[name]
    return target


def _own_app_fence(m: re.Match[str]) -> str:
    title = f' title="{m["file"]}"' if m["file"] else ""
    return f"{m['fence']}{m['lang']}{title}"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    top_level = page.file.src_uri in TOP_LEVEL.values()
    if page.file.src_uri == TOP_LEVEL["README.md"]:  # GitHub's title is the project's name
        markdown = re.sub(r"\A# .*$", "# Getting started", markdown, count=1, flags=re.M)
    markdown = _OWN_APP_FENCE.sub(_own_app_fence, markdown)
    return _LINK.sub(
        lambda m: f"]({_rewrite(m['target'], top_level=top_level)}{m['rest']})", markdown
    )
