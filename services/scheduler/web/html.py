"""Building HTML in which every value is escaped unless it was built here.

Text from the forges and from people (titles, logins, URLs, error messages) is untrusted. A
page is made of :func:`el` calls: any ``str`` child or attribute value is escaped, only
:class:`Markup` (what :func:`el` returns) passes as it is. So forgetting to escape is not
possible by omission; a raw string needs an explicit ``Markup(...)``, and there is none of
user text in this package.

Pages carry no script and load nothing from elsewhere; the Content-Security-Policy says so to
the browser too (the one inline style block is allowed by its hash).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from html import escape
from typing import Union

from services.scheduler.web.router import HTML, Response


class Markup(str):
    """HTML that is safe as it is (built by :func:`el`)."""


Child = Union[Markup, str, int, float, None, Iterable["Child"]]


def _render(child: Child) -> str:
    if child is None:
        return ""
    if isinstance(child, Markup):
        return str(child)
    if isinstance(child, str):
        return escape(child, quote=True)
    if isinstance(child, bool):
        return "yes" if child else "no"
    if isinstance(child, (int, float)):
        return escape(f"{child:,}" if isinstance(child, int) else f"{child:,.2f}")
    return "".join(_render(c) for c in child)


_VOID = frozenset({"br", "hr", "input", "meta", "img", "link"})


def el(tag: str, *children: Child, **attrs: str | int | bool | None) -> Markup:
    """``el("a", title, href=url)``; ``class_`` for ``class``; a False or None attribute is left out."""
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{escape(str(value), quote=True)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{_render(list(children))}</{tag}>")


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(headers: list[str] | None, rows: Iterable[list[Child]], *, empty: str = "nothing", **attrs: str) -> Markup:
    """A table of cells (no header row when ``headers`` is None), or ``empty`` when there are no rows."""
    body = [el("tr", *(el("td", cell) for cell in row)) for row in rows]
    if not body:
        return el("p", empty, class_="empty")
    head = el("thead", el("tr", *(el("th", h) for h in headers))) if headers else None
    return el("table", head, el("tbody", body), **attrs)


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#0b3d5c;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.4rem;align-items:baseline}
header a{color:#fff;text-decoration:none}header strong{font-size:1.15rem}
main{padding:1rem 1.2rem;max-width:1200px}h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;background:#fff;margin:.4rem 0;min-width:40%}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f5}td.num,.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #d0d7de;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.5rem}.bad{color:#b42318}.ok{color:#1a7f37}.empty{color:#57606a}
form{margin:.4rem 0 .8rem}input,select{font:inherit;padding:.15rem .3rem}code{font-size:.9em}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; form-action 'self';"
       " base-uri 'none'; frame-ancestors 'none'")
_NAV = (("/", "Overview"), ("/repos", "Repositories"), ("/leaderboard/global", "Leaderboard"),
        ("/dead-letters", "Dead letters"), ("/openapi.json", "API"))


def page(title: str, *content: Child, status: int = 200) -> Response:
    nav = [el("strong", "Watershed")] + [el("a", label, href=href) for href, label in _NAV]
    document = Markup("<!doctype html>") + el(
        "html",
        el("head", el("meta", charset="utf-8"), el("meta", name="viewport", content="width=device-width"),
           el("title", f"{title} · Watershed"), el("style", Markup(STYLE))),
        el("body", el("header", *nav), el("main", el("h1", title), *content)),
        lang="en")
    return Response(status, document.encode(), HTML,
                    [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")])
