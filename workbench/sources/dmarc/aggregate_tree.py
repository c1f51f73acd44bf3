"""The lxml engine for aggregate reports that the fast engine refuses.

It recovers what a not-well-formed document still says (and reports what it recovered),
finds ``<feedback>`` under any wrapper or namespace prefix, keeps repeated ``<reason>`` and
``<error>`` elements and the raw XML of ``<extensions>``. The parser never loads a DTD,
never resolves an entity and never touches the network; documents that declare a DTD were
refused before reaching it (:mod:`.xmlsafe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from lxml import etree

from workbench.errors import ParseError, UnsafeInput

ITEM_META = {
    ("report_metadata", "org_name"): "org_name", ("report_metadata", "email"): "org_email",
    ("report_metadata", "extra_contact_info"): "extra_contact_info", ("report_metadata", "report_id"): "report_id",
    ("report_metadata", "generator"): "generator", ("policy_published", "domain"): "policy_domain",
}
POLICY = ("adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing", "t", "psd", "discovery_method")
IDENTIFIERS = ("header_from", "envelope_from", "envelope_to")


@dataclass
class Tree:
    """What the tree engine read: the same frames as the fast engine, plus extensions."""

    items: pl.DataFrame
    auth: pl.DataFrame
    extensions: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _local(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _text(el: Any) -> str | None:
    text = "".join(el.itertext()) if len(el) else el.text
    text = (text or "").strip()
    return text or None


def _children(el: Any) -> list[Any]:
    return [c for c in el if isinstance(c.tag, str)]


def parse(data: bytes, source: str) -> Tree:
    """Read ``data`` with lxml (recovering), into the fast engine's frames.

    Raises
    ------
    ParseError
        No ``<feedback>`` element could be found.
    UnsafeInput
        The document carries a DTD after all.
    """
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True, dtd_validation=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(source, f"line {exc.lineno}", f"not XML: {exc.msg}") from exc
    warnings = [f"XML not well-formed, recovered by lxml: line {e.line}: {e.message}" for e in parser.error_log][:20]
    if root is None:
        raise ParseError(source, "start of file", "not XML, nothing could be recovered")
    if root.getroottree().docinfo.internalDTD is not None:
        raise UnsafeInput(source, "prolog", "document type declaration refused")
    feedback = root if _local(root) == "feedback" else next((e for e in root.iter() if _local(e) == "feedback"), None)
    if feedback is None:
        raise ParseError(source, "root element", f"<{_local(root)}> is not a DMARC aggregate report (no <feedback>)")
    if feedback is not root:
        warnings.append(f"<feedback> found inside <{root.tag}>; the wrapper was ignored")
    items: list[dict[str, Any]] = []
    auth: list[dict[str, Any]] = []
    extensions: dict[int, str] = {}
    for n, child in enumerate(_children(feedback)):
        name = _local(child)
        row: dict[str, Any] = {"<item>": n}
        if name == "version":
            row["version"] = _text(child)
        elif name in ("report_metadata", "policy_published"):
            _section(child, name, row)
        elif name == "record":
            _record(child, n, row, auth, extensions)
        elif name in ("extensions", "extension"):
            extensions[-1] = etree.tostring(child, encoding="unicode")
        items.append(row)
    return Tree(_frame(items), _auth_frame(auth), extensions, warnings)


def _section(el: Any, name: str, row: dict[str, Any]) -> None:
    for c in _children(el):
        sub = _local(c)
        if name == "report_metadata" and sub == "date_range":
            for d in _children(c):
                if _local(d) in ("begin", "end"):
                    row[_local(d)] = _text(d)
        elif name == "report_metadata" and sub == "error":
            row.setdefault("errors", []).append(_text(c))
        elif (name, sub) in ITEM_META:
            row[ITEM_META[(name, sub)]] = _text(c)
        elif name == "policy_published" and sub in POLICY:
            row[sub] = _text(c)


def _record(el: Any, n: int, row: dict[str, Any], auth: list[dict[str, Any]], extensions: dict[int, str]) -> None:
    row["reason_type"], row["reason_comment"] = [], []
    for part in _children(el):
        kind = _local(part)
        if kind == "row":
            for c in _children(part):
                sub = _local(c)
                if sub in ("source_ip", "count"):
                    row[sub] = _text(c)
                elif sub == "policy_evaluated":
                    for p in _children(c):
                        what = _local(p)
                        if what == "reason":
                            fields = {_local(r): _text(r) for r in _children(p)}
                            if fields.get("type") or fields.get("comment"):
                                row["reason_type"].append(fields.get("type") or "")
                                row["reason_comment"].append(fields.get("comment") or "")
                        elif what in ("disposition", "dkim", "spf"):
                            row["disposition" if what == "disposition" else f"policy_{what}"] = _text(p)
        elif kind == "identifiers":
            for c in _children(part):
                if _local(c) in IDENTIFIERS:
                    row[_local(c)] = _text(c)
        elif kind == "auth_results":
            for k, result in enumerate(_children(part)):
                method = _local(result)
                if method in ("dkim", "spf"):
                    values = {f"{method}_{_local(f)}": _text(f) for f in _children(result)}
                    auth.append({"<item>": n, "<auth>": k, **values})
        elif kind in ("extensions", "extension"):
            extensions[n] = etree.tostring(part, encoding="unicode")


def _frame(items: list[dict[str, Any]]) -> pl.DataFrame:
    from workbench.sources.dmarc.aggregate import META, RECORD

    errors = [r.pop("errors", None) for r in items]
    schema: dict[str, Any] = {"<item>": pl.UInt32, **{c: pl.Utf8 for c in META + RECORD}}
    schema["reason_type"] = schema["reason_comment"] = pl.List(pl.Utf8)
    frame = pl.DataFrame(items, schema=schema)
    # several <error> elements: one item row each, so that the metadata reader sees them all
    extra = [{"<item>": 10**6 + i, "error": e} for i, errs in enumerate(errors) for e in (errs or [])]
    if extra:
        frame = pl.concat([frame, pl.DataFrame(extra, schema={"<item>": pl.UInt32, "error": pl.Utf8})], how="diagonal")
    return frame


def _auth_frame(auth: list[dict[str, Any]]) -> pl.DataFrame:
    from workbench.sources.dmarc.aggregate import AUTH

    schema: dict[str, Any] = {"<item>": pl.UInt32, "<auth>": pl.UInt32, **{c: pl.Utf8 for c in AUTH}}
    return pl.DataFrame([{k: v for k, v in r.items() if k in schema} for r in auth], schema=schema)
