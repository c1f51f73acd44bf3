"""JSON text built column-wise with ``concat_str``.

``obj(("name", value), ...)`` renders an object whose members with a null value are left
out; ``s(expr)`` is a JSON string (``safe=True`` skips escaping for values known to hold no
quote or backslash: ids, addresses, IPs, time stamps), ``n(expr)`` a number or boolean,
``arr(...)`` an array, ``Raw(expr)`` already-rendered JSON. Nulls propagate through
``concat_str``, so leaving out a member costs no branch.
"""

from __future__ import annotations

import polars as pl


class Raw:
    """An expression that renders JSON (null: absent)."""

    def __init__(self, expr: pl.Expr) -> None:
        self.expr = expr


def s(expr: pl.Expr | str, *, safe: bool = False) -> Raw:
    """A JSON string."""
    if isinstance(expr, str):
        return Raw(pl.lit('"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'))
    text = expr.cast(pl.Utf8)
    if not safe:
        text = text.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
    return Raw(pl.concat_str([pl.lit('"'), text, pl.lit('"')]))


def n(expr: pl.Expr | int | float | bool) -> Raw:
    """A JSON number or boolean."""
    if isinstance(expr, bool):
        return Raw(pl.lit("true" if expr else "false"))
    if isinstance(expr, (int, float)):
        return Raw(pl.lit(str(expr)))
    return Raw(expr.cast(pl.Utf8))


def arr(*items: Raw) -> Raw:
    """A JSON array of the items (all present)."""
    inner = [pl.lit("[")]
    for i, item in enumerate(items):
        if i:
            inner.append(pl.lit(","))
        inner.append(item.expr)
    inner.append(pl.lit("]"))
    return Raw(pl.concat_str(inner))


def obj(*members: tuple[str, Raw | None]) -> Raw:
    """A JSON object of the members whose value is not null (the first must be present)."""
    parts: list[pl.Expr] = []
    for name, value in members:
        if value is None:
            continue
        key = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '":'
        member = pl.concat_str([pl.lit(("," if parts else "") + key), value.expr])
        parts.append(member if not parts else member.fill_null(""))
    if not parts:
        return Raw(pl.lit("{}"))
    return Raw(pl.concat_str([pl.lit("{"), *parts, pl.lit("}")]))


def when(cond: pl.Expr, value: Raw) -> Raw:
    """``value`` where ``cond`` holds, else absent."""
    return Raw(pl.when(cond).then(value.expr))
