"""MkDocs hooks of the site (named in docs/mkdocs.yml)."""

from __future__ import annotations

import html
import posixpath


def on_page_content(content, page, config, files):
    """Notebook pages open with a link to the notebook itself (mkdocs-jupyter copies it
    beside the page), since the site only shows it: running it needs Jupyter."""
    src = page.file.src_uri
    if not src.endswith(".ipynb"):
        return content
    name = html.escape(posixpath.basename(src))
    link = (f'<p class="nb-download"><a href="{name}" download>Download {name}</a> '
            "to run it in Jupyter; the outputs below are the committed ones.</p>")
    return link + content
