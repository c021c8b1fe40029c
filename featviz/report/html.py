"""HTML building blocks for the site: standard library only, every value escaped, no external resources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote

from ..patterns.layout import STYLE, link

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #dde1e8; --bg: #fafbfc; --accent: #2458b3; --bad: #b3243c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 12px 20px; }
header { border-bottom: 1px solid var(--line); }
header a { color: var(--accent); text-decoration: none; margin-right: 14px; }
h1 { font-size: 1.45rem; margin: 8px 0 4px; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; }
p.muted, .muted { color: var(--muted); }
a { color: var(--accent); }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.92rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { image-rendering: pixelated; }
img.wide { max-width: 100%; height: auto; border: 1px solid var(--line); background: white; }
.scroll { overflow-x: auto; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(92px, 1fr)); gap: 10px; }
.tile { background: white; border: 1px solid var(--line); border-radius: 6px; padding: 6px; text-align: center;
        font-size: 0.8rem; }
.tile img { width: 100%; height: auto; display: block; }
.tile img.slice { width: 50%; margin: 4px auto 2px; }
.tile.marked { border-color: var(--bad); }
.tile:target { outline: 3px solid var(--accent); }
nav.steps { display: flex; gap: 18px; margin: 6px 0 2px; }
.tile .bad { color: var(--bad); font-weight: 600; }
.tile a { text-decoration: none; color: inherit; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.card { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
code { background: #eef1f5; padding: 1px 4px; border-radius: 4px; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  .tiles { grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)); gap: 6px; }
  header, main, footer { padding: 10px 12px; }
}
"""


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def href(path: str) -> str:
    """A relative link, URL-quoted (file names are slugs already)."""
    return esc(quote(path, safe="/.-_#"))


def page(title: str, body: str, path: str, nav: Sequence[tuple[str, str]] = ()) -> str:
    """A whole page that lives at `path` in the site; nav holds (label, site path) pairs."""
    links = "".join(f'<a href="{href(link(path, target))}">{esc(label)}</a>' for label, target in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{esc(title)}</title>\n<link rel="stylesheet" href="{href(link(path, STYLE))}">\n</head>\n'
        f"<body>\n<header>{links}</header>\n<main>\n<h1>{esc(title)}</h1>\n{body}\n</main>\n"
        '<footer class="muted">made by featviz</footer>\n</body>\n</html>\n'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped, columns in `numeric` right-aligned."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>" for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def image(src: str, alt: str, *, cls: str = "wide", width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img class="{esc(cls)}" src="{href(src)}" alt="{esc(alt)}"{size}>'


def tile(src: str, caption: str, *, target: str | None = None, marked: bool = False, anchor: str = "") -> str:
    """A thumbnail with a caption, linking to `target`; a marked tile (dead, in error, flagged) is red."""
    inner = f'<img src="{href(src)}" alt="{esc(caption)}" loading="lazy">'
    label = f'<span class="bad">{esc(caption)}</span>' if marked else esc(caption)
    content = f"{inner}<div>{label}</div>"
    if target:
        content = f'<a href="{href(target)}">{content}</a>'
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f'<div class="tile{" marked" if marked else ""}"{ident}>{content}</div>'


def link_to(page: str, target: str, text: str, fragment: str = "") -> str:
    """A link from `page` to `target` (both relative to the site's root), its text escaped."""
    return f'<a href="{href(link(page, target) + fragment)}">{esc(text)}</a>'


def image_at(page: str, target: str, alt: str, **kwargs) -> str:
    """An image on `page` showing the file `target` (both relative to the site's root)."""
    return image(link(page, target), alt, **kwargs)
