"""A report document, written as Markdown (figures linked) and as one self-contained HTML page.

The only inline markup is ``**bold**`` and links to files beside the report
(``[label](relative/path)``). In HTML every value is escaped, images are inlined and there is no
JavaScript, so the page shows the same offline and cannot run anything it quotes.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Bullets",
    "Document",
    "Image",
    "Paragraph",
    "Section",
    "Table",
    "md_table",
    "other_reports",
    "write_html",
    "write_markdown",
]

# A link to a file beside the report: a relative path, never a scheme (no "javascript:").
LINK = re.compile(r"\[([^\]]+)\]\(([\w./-]+)\)")
# The files the reports of this project are written to.
REPORT_FILES = ("README.md", "perf.md")


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    """A figure, by its path relative to the document's directory."""

    path: str
    caption: str


Block = Paragraph | Bullets | Table | Image


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block]
    # Long listings that help in a browser but would bury the Markdown summary.
    html_only: bool = False


@dataclass(frozen=True)
class Document:
    """A title, the run's details (``header``) and sections. ``lead`` sections come before the
    details, which then get a heading of their own: the answer first, how it was made after."""

    title: str
    header: list[tuple[str, str]]
    sections: list[Section]
    lead: list[Section] = field(default_factory=list)


DETAILS = "Run details"


def md_table(header_cells: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header_cells) + " |", "|" + "---|" * len(header_cells)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _markdown_block(block: Block) -> str:
    match block:
        case Paragraph(text):
            return text
        case Bullets(items):
            return "\n".join(f"- {item}" for item in items)
        case Table(header, rows):
            return md_table(header, rows)
        case Image(path, caption):
            return f"![{caption}]({path})\n\n*{caption}*"
    raise TypeError(f"not a report block: {block!r}")


def _markdown_sections(sections: list[Section]) -> list[str]:
    parts = []
    for section in sections:
        if not section.html_only:
            parts += [f"## {section.title}", *(_markdown_block(b) for b in section.blocks)]
    return parts


def write_markdown(document: Document, path: Path) -> Path:
    parts = [f"# {document.title}", *_markdown_sections(document.lead)]
    parts += [f"## {DETAILS}"] if document.lead else []
    parts += ["\n".join(f"- **{k}:** {v}" for k, v in document.header), *_markdown_sections(document.sections)]
    path.write_text("\n\n".join(parts) + "\n")
    return path


def _inline(text: str) -> str:
    parts = html.escape(text).split("**")
    bold = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    return LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', bold)


def _place(path: Path, root: Path) -> str:
    """A report's name: its directory for a README, else its file, from ``reports/`` on."""
    return (path.parent if path.name == "README.md" else path).relative_to(root.parent).as_posix()


def other_reports(report: Path) -> Paragraph | None:
    """Links from ``report`` (a report file) to every other report under the same ``reports/``
    directory (``REPORT_FILES`` in it or below), labelled by their place; None outside one."""
    here = report.resolve().parent
    root = next((d for d in (here, *here.parents) if d.name == "reports"), None)
    if root is None:
        return None
    found = sorted(path for name in REPORT_FILES for path in root.rglob(name) if path.resolve() != report.resolve())
    if not found:
        return None
    links = [f"[{_place(path, root)}]({Path(os.path.relpath(path, here)).as_posix()})" for path in found]
    return Paragraph("**Other reports**: " + ", ".join(links) + ".")


def _html_block(block: Block, base: Path) -> str:
    match block:
        case Paragraph(text):
            return f"<p>{_inline(text)}</p>"
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>"
        case Table(header, rows):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        case Image(path, caption):
            data = base64.b64encode((base / path).read_bytes()).decode()
            return (
                f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_inline(caption)}</figcaption></figure>"
            )
    raise TypeError(f"not a report block: {block!r}")


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.45}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:13px}th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}"
    "figcaption{font-style:italic;margin-bottom:2em}"
)


def _html_sections(sections: list[Section], base: Path) -> list[str]:
    body = []
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [_html_block(b, base) for b in section.blocks]
    return body


def write_html(document: Document, path: Path) -> Path:
    """The page, with every image read from beside ``path`` and inlined."""
    body = [f"<h1>{html.escape(document.title)}</h1>", *_html_sections(document.lead, path.parent)]
    body += [f"<h2>{DETAILS}</h2>"] if document.lead else []
    body.append("<ul>")
    body += [f"<li><strong>{html.escape(k)}:</strong> {html.escape(v)}</li>" for k, v in document.header]
    body.append("</ul>")
    body += _html_sections(document.sections, path.parent)
    path.write_text(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(document.title)}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
    return path
