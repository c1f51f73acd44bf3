"""Mail templates: Jinja2 in a sandbox, HTML with CSS inlined, a text part, checked before a send.

A template is a folder ``<name>/`` holding ``template.yaml`` (``subject``, optional
``from_name``, ``preheader``, ``defaults``: values for variables a contact lacks),
``html.j2`` and optionally ``text.j2``. Folders are looked up in ``templates/`` at the
project root, then among the templates shipped with the package
(``workbench/data/templates``: ``newsletter``, ``password-reset``).

- **Sandboxed**: :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (no access to
  ``__class__`` and other internals, no mutation of values), no loader (no ``include``,
  ``import`` or ``extends``: no file access), autoescaping in HTML.
- **Text part**: ``text.j2`` when given, else generated from the HTML *template* once, at
  load time, by html2text with the Jinja tags protected, so the text part personalises
  exactly like the HTML and costs no conversion per message.
- **CSS inlined** into each rendered HTML by css-inline (remote stylesheets are never
  fetched; ``@media`` rules stay in a ``<style>`` block).
- **Checked**: :func:`check` lists the variables no contact column, default or sender
  variable provides (an error before any send), and per variable how many contacts have no
  value and no default; rendering itself is strict (a missing variable raises).

Examples
--------
>>> t = template_from_strings("hello", "Hi {{ first_name }}", "<p>Hello {{ first_name }}</p>",
...                           defaults={"first_name": "there"})
>>> compile_template(t).render({"first_name": None}).subject
'Hi there'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import css_inline
import html2text
import jinja2
import polars as pl
import yaml
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workbench.errors import ConfigError

__all__ = ["SENDER_VARIABLES", "CompiledTemplate", "Rendered", "Template", "TemplateCheck", "check",
           "compile_template", "load_template", "preview", "template_from_strings", "template_names"]

#: variables the sender provides for every message (never missing)
SENDER_VARIABLES = frozenset({"contact_id", "email", "campaign_id", "unsubscribe_url", "message_id",
                              "sending_domain", "list_name", "preheader"})
MAX_TEMPLATE_BYTES = 512 << 10
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_ENV_HTML = ImmutableSandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined, loader=None)
_ENV_TEXT = ImmutableSandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined, loader=None)
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Template:
    """A template's sources (Jinja) and settings."""

    name: str
    subject: str
    html: str
    text: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    from_name: str | None = None
    preheader: str | None = None


@dataclass(frozen=True)
class Rendered:
    """One contact's subject, HTML (CSS inlined) and text."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class TemplateCheck:
    """What :func:`check` found.

    ``missing``: variables nothing provides (the send must not start); ``incomplete``:
    variable -> number of contacts without a value and without a default (they would get an
    error at render time); ``warnings``: advice (e.g. no visible unsubscribe link).
    """

    variables: tuple[str, ...]
    missing: tuple[str, ...]
    incomplete: Mapping[str, int]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.incomplete


def template_from_strings(name: str, subject: str, html: str, text: str | None = None, *,
                          defaults: Mapping[str, Any] | None = None, from_name: str | None = None,
                          preheader: str | None = None) -> Template:
    """A template from Jinja sources held in memory."""
    return Template(name, subject, html, text, dict(defaults or {}), from_name, preheader)


def _search_path(root: Path | None) -> list[Path]:
    paths = [root / "templates"] if root else []
    return [*paths, Path(str(resources.files("workbench").joinpath("data", "templates")))]


def template_names(root: Path | None = None) -> list[str]:
    """Names of the templates found in the search path (project first, then shipped)."""
    names: set[str] = set()
    for base in _search_path(root):
        if base.is_dir():
            names.update(p.parent.name for p in base.glob("*/template.yaml"))
    return sorted(names)


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        raise ConfigError(f"{path} is over {MAX_TEMPLATE_BYTES >> 10} KiB: a mail template should be far smaller")
    return path.read_text(encoding="utf-8")


def load_template(name: str | Path, *, root: Path | None = None) -> Template:
    """Load a template folder by name (search path) or path.

    Raises
    ------
    ConfigError
        No such template, or a ``template.yaml`` without a subject, or no ``html.j2``.
    """
    candidates = [Path(name)] if Path(name).is_dir() else [base / str(name) for base in _search_path(root)]
    folder = next((c for c in candidates if (c / "template.yaml").is_file()), None)
    if folder is None:
        known = ", ".join(template_names(root)) or "none"
        raise ConfigError(f"no template {str(name)!r} (a folder with template.yaml and html.j2 in templates/); known: {known}")
    meta_doc = yaml.safe_load(_read(folder / "template.yaml")) or {}
    if not isinstance(meta_doc, dict) or not meta_doc.get("subject"):
        raise ConfigError(f"{folder / 'template.yaml'} needs a subject")
    if not (folder / "html.j2").is_file():
        raise ConfigError(f"{folder} has no html.j2")
    text = _read(folder / "text.j2") if (folder / "text.j2").is_file() else None
    defaults = meta_doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{folder / 'template.yaml'}: defaults must be a mapping")
    return Template(folder.name, str(meta_doc["subject"]), _read(folder / "html.j2"), text, defaults,
                    meta_doc.get("from_name"), meta_doc.get("preheader"))


def text_from_html(source: str) -> str:
    """A text Jinja template made from an HTML Jinja template (tags kept, markup converted)."""
    tags: list[str] = []

    def protect(match: re.Match[str]) -> str:
        tags.append(match[0])
        return f"WBJINJA{len(tags) - 1}X"

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True
    converter.ignore_tables = True  # layout tables, not data
    protected = _JINJA_TAG.sub(protect, source)
    converted = converter.handle(protected)
    text = "\n".join(line.rstrip() for line in converted.splitlines())  # no markdown hard breaks
    return re.sub(r"WBJINJA(\d+)X", lambda m: tags[int(m[1])], text).strip() + "\n"


def _optional_names(ast: nodes.Template) -> set[str]:
    """Names a missing value cannot break: tested with ``is defined`` anywhere (the author
    guards them), or only ever read through ``|default``."""
    guarded: set[int] = set()
    tested: set[str] = set()
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        if not isinstance(node.node, nodes.Name):
            continue
        if isinstance(node, nodes.Test) and node.name in ("defined", "undefined"):
            tested.add(node.node.name)
        elif node.name in ("default", "d"):
            guarded.add(id(node.node))
    used = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"}
    bare = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load" and id(n) not in guarded}
    return (used - bare) | tested


class CompiledTemplate:
    """A template compiled once, rendered per contact.

    Raises
    ------
    ConfigError
        A source is not valid Jinja (the message names the part and line).
    """

    def __init__(self, template: Template) -> None:
        self.template = template
        text_source = template.text if template.text is not None else text_from_html(template.html)
        self.sources = {"subject": template.subject, "html": template.html, "text": text_source}
        asts = {}
        for part, source in self.sources.items():
            env = _ENV_HTML if part == "html" else _ENV_TEXT
            try:
                asts[part] = env.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"template {template.name!r}, {part} line {exc.lineno}: {exc.message}") from exc
            found = asts[part].find((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))  # type: ignore[arg-type]
            if found is not None:
                raise ConfigError(f"template {template.name!r}, {part} line {found.lineno}: include, import and "
                                  "extends are not allowed (a template reads no file)")
        self._asts = asts
        # the subject's own line breaks are layout; a CR / LF coming from a value stays, and
        # the composer refuses it (no header injection)
        self.subject = _ENV_TEXT.from_string(" ".join(template.subject.split()))
        self.html = _ENV_HTML.from_string(template.html)
        self.text = _ENV_TEXT.from_string(text_source)

    @cached_property
    def variables(self) -> frozenset[str]:
        """Every variable the template reads."""
        found: set[str] = set()
        for ast in self._asts.values():
            found |= meta.find_undeclared_variables(ast)
        return frozenset(found)

    @cached_property
    def required(self) -> frozenset[str]:
        """Variables read without ``|default`` or ``is defined`` guard, and without a default."""
        optional = set.intersection(*(_optional_names(a) | (self.variables - meta.find_undeclared_variables(a))
                                      for a in self._asts.values()))
        return frozenset(self.variables - optional - set(self.template.defaults))

    def context(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults, then the values that are not null."""
        ctx = dict(self.template.defaults)
        ctx.update({k: v for k, v in values.items() if v is not None})
        if self.template.preheader and "preheader" not in ctx:
            ctx["preheader"] = self.template.preheader
        return ctx

    def render(self, values: Mapping[str, Any], *, inline_css: bool = True) -> Rendered:
        """Subject, HTML and text for one contact.

        Raises
        ------
        ConfigError
            A variable is missing (no value, no default) or the template failed.
        """
        ctx = self.context(values)
        try:
            subject = self.subject.render(ctx).strip()
            html = self.html.render(ctx)
            text = self.text.render(ctx)
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template {self.template.name!r}: {exc.message} (add it to the contact or to "
                              "the template's defaults)") from exc
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template {self.template.name!r} failed: {exc}") from exc
        return Rendered(subject, _INLINER.inline(html) if inline_css else html, text)


def compile_template(template: Template) -> CompiledTemplate:
    """Compile ``template`` (see :class:`CompiledTemplate`).

    Raises
    ------
    ConfigError
        A source is not valid Jinja.
    """
    return CompiledTemplate(template)


def check(template: Template | CompiledTemplate, contacts: pl.DataFrame,
          provided: Iterable[str] = SENDER_VARIABLES) -> TemplateCheck:
    """Find what would break a send before it starts: variables nothing provides, and
    contacts without a value for a variable that has no default.

    Raises
    ------
    ConfigError
        The template is not valid Jinja.
    """
    compiled = template if isinstance(template, CompiledTemplate) else compile_template(template)
    given = set(provided) | set(contacts.columns) | set(compiled.template.defaults)
    missing = tuple(sorted(compiled.required - given))
    incomplete: dict[str, int] = {}
    for name in sorted(compiled.required & set(contacts.columns)):
        nulls = contacts[name].null_count()
        if nulls:
            incomplete[name] = int(nulls)
    warnings = []
    if "unsubscribe_url" not in compiled.variables:
        warnings.append("no visible unsubscribe link ({{ unsubscribe_url }}): Gmail and Yahoo require one in "
                        "marketing mail, besides the List-Unsubscribe header")
    return TemplateCheck(tuple(sorted(compiled.variables)), missing, incomplete, tuple(warnings))


def preview(template: Template | CompiledTemplate, contact: Mapping[str, Any], **sender: Any) -> Rendered:
    """What ``contact`` would receive (sender variables get placeholders unless given).

    Raises
    ------
    ConfigError
        A variable is missing or the template failed.
    """
    compiled = template if isinstance(template, CompiledTemplate) else compile_template(template)
    values = {"unsubscribe_url": "https://track.example/u/preview", "campaign_id": "preview",
              "message_id": "<preview@example>", **dict(contact), **sender}
    return compiled.render(values)
