"""Markdown written by people (comments, findings, documentation) as HTML that is safe to show
and to export: nh3's allowlist keeps no script, no style, no image and no remote resource, so an
offline export of it loads nothing from the network."""

from __future__ import annotations

import re

import markdown
import nh3

_ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "del",
}
# The page owns the top two heading levels: a writer's "#" and "##" become level 3, "#####" and
# "######" level 4, instead of losing their heading altogether.
_HEADING = re.compile(r"<(/?)h([1-6])\b", re.IGNORECASE)


def _demoted(match: re.Match[str]) -> str:
    level = int(match.group(2))
    return f"<{match.group(1)}h{3 if level <= 3 else 4}"


def render_markdown(text: str) -> str:
    """Markdown to HTML that no script survives: the output goes through nh3's allowlist."""
    html = markdown.markdown(
        text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html"
    )
    return nh3.clean(
        _HEADING.sub(_demoted, html),
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
