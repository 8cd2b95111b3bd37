"""The report as one self-contained HTML page: every image embedded as a base64 ``data:`` URI, tables as HTML,
no script, no external file or address. All text passes through :func:`html.escape`.

The page is assembled from :class:`Section` objects (see :mod:`reports.report`); this module only renders.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reports.tables import Table

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .85em; }
th, td { padding: .2em .5em; text-align: right; border-bottom: 1px solid #e5e5e5; }
th { border-bottom: 2px solid #888; } td.label, th.label { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: .3em; }
p.source { font-size: .8em; color: #555; margin-top: 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #444; }
.summary li { margin-bottom: .4em; } .missing { color: #8a5a00; font-style: italic; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; font-size: .8em; }
nav ul { columns: 2; }
"""


@dataclasses.dataclass(frozen=True)
class Image:
    """An image of the page: encoded bytes, MIME type, caption, and the files it was written to (or copied from)."""

    data: bytes
    mime: str
    caption: str
    files: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Section:
    """One section of the page: text paragraphs, then items (tables and images) in order.

    ``details`` items are folded away (``<details>``) under ``details_title``; ``missing`` sentences say what the
    run lacks for this section.
    """

    anchor: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[Table | Image, ...] = ()
    details: tuple[Table | Image, ...] = ()
    details_title: str = "more"
    missing: tuple[str, ...] = ()
    markup: str = ""  # already escaped HTML (e.g. :func:`value_html`), placed after the paragraphs


def esc(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def table_html(table: Table) -> str:
    """A table with its title as caption and a line naming the model that produced it."""
    shown = table.shown()
    levels = shown.index.nlevels
    names = [n if n is not None else "" for n in shown.index.names]
    head = "".join(f'<th class="label">{esc(n)}</th>' for n in names)
    head += "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    rows = []
    for key, values in zip(shown.index, shown.to_numpy(dtype=float), strict=True):
        keys = list(key) if levels > 1 else [key]
        cells = "".join(f'<td class="label">{esc(k)}</td>' for k in keys)
        cells += "".join(f"<td>{'-' if math.isnan(v) else f'{v:.{table.digits}f}'}</td>" for v in values)
        rows.append(f"<tr>{cells}</tr>")
    source = f"Produced by {table.source}" + (f"; {table.note}" if table.note else "") + "."
    return (f'<table id="{esc(table.name)}"><caption>{esc(table.title)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>\n<p class="source">{esc(source)} '
            f"Files: tables/{esc(table.name)}.md, .csv, .tex</p>")


def image_html(image: Image) -> str:
    """A ``<figure>`` with the image inline as a ``data:`` URI."""
    data = base64.b64encode(image.data).decode("ascii")
    files = f" (file: {', '.join(image.files)})" if image.files else ""
    return (f'<figure><img alt="{esc(image.caption)}" src="data:{esc(image.mime)};base64,{data}">'
            f"<figcaption>{esc(image.caption + files)}</figcaption></figure>")


def _items(items: Iterable[Table | Image]) -> str:
    return "\n".join(table_html(i) if isinstance(i, Table) else image_html(i) for i in items)


def section_html(section: Section) -> str:
    parts = [f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}</h2>']
    parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
    parts += [f'<p class="missing">{esc(m)}</p>' for m in section.missing]
    if section.markup:
        parts.append(section.markup)
    parts.append(_items(section.items))
    if section.details:
        parts.append(f"<details><summary>{esc(section.details_title)}</summary>{_items(section.details)}</details>")
    parts.append("</section>")
    return "\n".join(parts)


def value_html(value: Any, depth: int = 0) -> str:
    """A JSON value as nested key/value tables (mappings), comma lists (lists of scalars) or escaped text."""
    if isinstance(value, Mapping):
        if not value:
            return "<i>empty</i>"
        if depth >= 3:
            return f"<pre>{esc(json.dumps(value, indent=1, sort_keys=True, default=str))}</pre>"
        rows = "".join(f'<tr><th class="label">{esc(k)}</th><td class="label">{value_html(v, depth + 1)}</td></tr>'
                       for k, v in value.items())
        return f"<table>{rows}</table>"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return esc(", ".join(str(v) for v in value))
        return f"<pre>{esc(json.dumps(value, indent=1, sort_keys=True, default=str))}</pre>"
    return esc(value)


def page(title: str, summary: Sequence[str], sections: Sequence[Section], footer: str = "") -> str:
    """The whole page: title, summary list, contents, sections."""
    nav = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>' for s in sections)
    items = "".join(f"<li>{esc(s)}</li>" for s in summary)
    body = "\n".join(section_html(s) for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<section id=\"summary\"><h2>Summary</h2><ul class=\"summary\">{items}</ul>"
        f"</section>\n<nav><h2>Contents</h2><ul>{nav}</ul></nav>\n{body}\n"
        + (f"<footer><p class=\"source\">{esc(footer)}</p></footer>\n" if footer else "")
        + "</body>\n</html>\n"
    )
