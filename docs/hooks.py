"""mkdocs hook: site pages made from the repository's own Markdown, so nothing is copied by hand.

Each page in ``PAGES`` is its source file as is, except that relative links are turned into
site links: into ``docs/`` they lose the prefix, to another source file they point at its
page. A link to anything else fails the build, naming the file and the link.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent

#: site page → the repository file it shows.
PAGES = {
    "index.md": "README.md",
    "changelog.md": "CHANGELOG.md",
    "registry.md": "registry/README.md",
    "benchmarks.md": "benchmarks/results/latest.md",
}
_PAGE_OF = {source: page for page, source in PAGES.items()}

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def on_files(files: Files, config: Any) -> Files:
    for page, source in PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    source = PAGES.get(page.file.src_uri)
    if source is None:
        return markdown
    out, last = [], 0  # code blocks stay as they are
    for fence in _FENCE.finditer(markdown):
        out.append(_relink(markdown[last : fence.start()], source))
        out.append(fence.group(0))
        last = fence.end()
    out.append(_relink(markdown[last:], source))
    return "".join(out)


def _relink(text: str, source: str) -> str:
    def site_link(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
            return match.group(0)  # absolute, or an anchor on the same page
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if repo_path in _PAGE_OF:
            page = _PAGE_OF[repo_path]
        elif repo_path.startswith("docs/"):
            page = repo_path.removeprefix("docs/")
        else:
            raise PluginError(
                f"{source} links to {target!r}, which is not a page of the site: link to it "
                "absolutely, or add it to PAGES in docs/hooks.py"
            )
        return match.group(1) + page + ("#" + anchor if anchor else "") + match.group(3)

    return _LINK.sub(site_link, text)
