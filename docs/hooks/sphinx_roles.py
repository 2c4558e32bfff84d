"""MkDocs hook: Sphinx cross-reference roles in docstrings become links.

The docstrings use Sphinx roles such as ``:func:`sparsediff.jacobian_sparsity` ``
and ``:class:`~sparsediff.SparsityPattern` ``, which Markdown renders as the
role name followed by inline code. This hook turns each into an optional
mkdocs-autorefs cross-reference: a link when the target is documented, plain
inline code otherwise (``~`` shows only the last component, as in Sphinx).
Unqualified names are looked up in ``sparsediff`` and ``sparsediff.coloring``.
"""

from __future__ import annotations

import html
import re

_ROLE = re.compile(r":(?:func|class|meth|attr|mod|data|exc|obj):<code>(?P<target>[^<]+)</code>")


def _replace(match: re.Match) -> str:
    target = html.unescape(match["target"]).strip()
    short = target.startswith("~")
    target = target.lstrip("~").rstrip("()")
    title = target.rsplit(".", 1)[-1] if short else target
    if target.startswith("sparsediff."):
        identifier, fallback = target, None
    else:
        identifier, fallback = f"sparsediff.{target}", f"sparsediff.coloring.{target}"
    slug = f' slug="{html.escape(fallback)}"' if fallback else ""
    return (
        f'<autoref identifier="{html.escape(identifier)}"{slug} optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def on_page_content(html_text: str, **kwargs) -> str:
    """Rewrite the roles of one page (mkdocs ``on_page_content`` event)."""
    return _ROLE.sub(_replace, html_text)
