"""The classifier's rules as data: reason phrases, status codes, provider tables, MTA texts.

The packaged tables live in ``workbench/data/bounces/`` (``reasons.yaml``, ``status.tsv``,
``providers.yaml``, ``mtas.yaml``). Users add rules in YAML files of the same shape, passed
to :meth:`RuleSet.load` (``workbench classify --rules FILE``), or named in
``$WORKBENCH_BOUNCE_RULES`` so that loading uses them too (:func:`site_rules`): their phrases
are appended to the packaged ones, their providers and MTA texts added or extended.

Examples
--------
A user file that teaches a new German text and a provider's own code::

    reasons:
      mailboxfull:
        phrases: ["postfach ist voll"]
    providers:
      examplemail:
        hosts: [.mx.example-mail.net]
        rules:
          - {reason: suspend, text: "account gesperrt"}
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError

__all__ = ["RULES_ENV", "MtaText", "PhraseSet", "Provider", "ProviderRule", "RuleSet", "default_rules", "site_rules"]


@dataclass(frozen=True)
class PhraseSet:
    """Lower-cased substrings, ordered fragment sequences and regexes; ``unless`` vetoes."""

    phrases: tuple[str, ...] = ()
    sequences: tuple[tuple[str, ...], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    unless: tuple[str, ...] = ()

    def find(self, text: str) -> str | None:
        """The first phrase found in ``text`` (already lower-cased), as a rule label."""
        if not text:
            return None
        if self.unless and any(u in text for u in self.unless):
            return None
        for phrase in self.phrases:
            if phrase in text:
                return f'"{phrase}"'
        for parts in self.sequences:
            at = 0
            for part in parts:
                at = text.find(part, at)
                if at < 0:
                    break
                at += len(part)
            else:
                return '"' + " … ".join(p.strip() for p in parts) + '"'
        for regex in self.regexes:
            if regex.search(text):
                return f"/{regex.pattern}/"
        return None

    def merged(self, other: PhraseSet) -> PhraseSet:
        return PhraseSet(self.phrases + other.phrases, self.sequences + other.sequences,
                         self.regexes + other.regexes, self.unless + other.unless)


@dataclass(frozen=True)
class ProviderRule:
    """One documented error of a provider (see ``providers.yaml`` for the fields)."""

    reason: str
    text: str = ""
    reply: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    status_range: tuple[str, int, int] | None = None
    code: str = ""
    class_not: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """A mailbox provider's hosts and documented errors."""

    name: str
    hosts: tuple[str, ...]
    domains: tuple[str, ...]
    rules: tuple[ProviderRule, ...]
    require: tuple[str, ...] = ()
    loose: bool = False
    case_sensitive: bool = False
    codes_regex: re.Pattern[str] | None = None
    codes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MtaText:
    """Texts an MTA writes in its bounces, and the reason each one means (``mtas.yaml``)."""

    name: str
    reasons: Mapping[str, PhraseSet] = field(default_factory=dict)
    case_sensitive: bool = True

    def find(self, text: str) -> tuple[str, str] | None:
        """``(reason, phrase)`` for the first text found, or ``None``."""
        probe = text if self.case_sensitive else text.lower()
        for reason, phrases in self.reasons.items():
            hit = phrases.find(probe)
            if hit:
                return reason, hit
        return None


def _phrases(spec: Mapping[str, Any], where: str, lower: bool = True) -> PhraseSet:
    def norm(value: str) -> str:
        return value.lower() if lower else value

    try:
        return PhraseSet(
            tuple(norm(str(p)) for p in spec.get("phrases") or ()),
            tuple(tuple(norm(str(x)) for x in seq) for seq in spec.get("sequences") or ()),
            tuple(re.compile(str(r)) for r in spec.get("regex") or ()),
            tuple(norm(str(u)) for u in spec.get("unless") or ()),
        )
    except (re.error, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: bad phrase rules ({exc}); see workbench/data/bounces/reasons.yaml") from exc


def _provider(name: str, spec: Mapping[str, Any], where: str) -> Provider:
    rules = []
    for raw in spec.get("rules") or ():
        if "reason" not in raw or not (raw.get("text") or raw.get("code")):
            raise ConfigError(f"{where}: provider {name}: each rule needs a reason and a text or a code: {raw}")
        rng = raw.get("status_range")
        rules.append(ProviderRule(
            reason=str(raw["reason"]),
            text=str(raw.get("text") or "") if spec.get("case_sensitive") else str(raw.get("text") or "").lower(),
            reply=tuple(str(r) for r in raw.get("reply") or ()),
            status=tuple(str(s) for s in raw.get("status") or ()),
            status_range=(str(rng[0]), int(rng[1]), int(rng[2])) if rng else None,
            code=str(raw.get("code") or ""),
            class_not=tuple(str(c) for c in raw.get("class_not") or ()),
        ))
    codes = spec.get("codes") or {}
    try:
        regex = re.compile(codes["regex"]) if codes.get("regex") else None
    except re.error as exc:
        raise ConfigError(f"{where}: provider {name}: bad codes regex: {exc}") from exc
    return Provider(
        name=name,
        hosts=tuple(str(h).lower() for h in spec.get("hosts") or ()),
        domains=tuple(str(d).lower() for d in spec.get("domains") or ()),
        rules=tuple(rules),
        require=tuple(spec.get("require") or ()),
        loose=bool(spec.get("loose")),
        case_sensitive=bool(spec.get("case_sensitive")),
        codes_regex=regex,
        codes={str(k): str(v) for k, v in (codes.get("table") or {}).items()},
    )


@dataclass
class RuleSet:
    """Every rule the classifier uses (packaged tables plus the user's)."""

    reasons: dict[str, PhraseSet] = field(default_factory=dict)
    hard: set[str] = field(default_factory=set)
    descriptions: dict[str, str] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    mtas: dict[str, MtaText] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def status_name(self, code: str) -> str:
        """The reason an enhanced status code stands for, or ``""``."""
        return self.status.get(code, "")

    def match(self, reason: str, text: str) -> str | None:
        """The phrase of ``reason`` found in ``text`` (lower-cased), or ``None``."""
        phrases = self.reasons.get(reason)
        return phrases.find(text) if phrases else None

    def add(self, doc: Mapping[str, Any], where: str) -> None:
        """Merge one rules document (the shape of the packaged YAML files).

        Raises
        ------
        ConfigError
            The document does not have that shape.
        """
        if not isinstance(doc, Mapping):
            raise ConfigError(f"{where}: a rules file is a mapping with reasons/providers/mtas/status keys")
        for name, spec in (doc.get("reasons") or {}).items():
            spec = spec or {}
            phrases = _phrases(spec, f"{where}: reason {name}")
            self.reasons[name] = self.reasons[name].merged(phrases) if name in self.reasons else phrases
            if spec.get("hard"):
                self.hard.add(name)
            if spec.get("description"):
                self.descriptions[name] = str(spec["description"])
        for code, reason in (doc.get("status") or {}).items():
            self.status[str(code)] = str(reason)
        for name, spec in (doc.get("providers") or {}).items():
            new = _provider(name, spec or {}, where)
            old = self.providers.get(name)
            if old:
                new = Provider(name, old.hosts + new.hosts, old.domains + new.domains, new.rules + old.rules,
                               old.require, old.loose, old.case_sensitive, new.codes_regex or old.codes_regex,
                               {**old.codes, **new.codes})
            self.providers[name] = new
        for name, spec in (doc.get("mtas") or {}).items():
            spec = spec or {}
            sensitive = bool(spec.get("case_sensitive", True))
            found = {r: _phrases(p or {}, f"{where}: mta {name}", lower=not sensitive)
                     for r, p in (spec.get("reasons") or {}).items()}
            old_mta = self.mtas.get(name)
            if old_mta:
                merged = dict(old_mta.reasons)
                for r, p in found.items():
                    merged[r] = merged[r].merged(p) if r in merged else p
                found = merged
            self.mtas[name] = MtaText(name, found, sensitive)
        self.sources.append(where)

    @classmethod
    def load(cls, extra: Iterable[str | Path] = ()) -> RuleSet:
        """The packaged rules, then each file (or folder of ``*.yaml``) in ``extra``.

        Raises
        ------
        ConfigError
            A file is missing or not valid YAML of the expected shape.
        """
        rules = cls()
        data = resources.files("workbench").joinpath("data", "bounces")
        for name in ("reasons.yaml", "providers.yaml", "mtas.yaml"):
            rules.add(yaml.safe_load(data.joinpath(name).read_text(encoding="utf-8")), f"workbench/data/bounces/{name}")
        for line in data.joinpath("status.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                code, reason = line.split("\t")[:2]
                rules.status[code.strip()] = reason.strip()
        for item in extra:
            path = Path(item)
            files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
            for file in files:
                try:
                    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
                except (OSError, yaml.YAMLError) as exc:
                    raise ConfigError(f"cannot read rules file {file}: {exc}") from exc
                rules.add(doc or {}, str(file))
        return rules


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rules (loaded once per process)."""
    return RuleSet.load()


#: environment variable naming the user's rules files or folders (``os.pathsep``-separated)
RULES_ENV = "WORKBENCH_BOUNCE_RULES"


def site_rules() -> RuleSet:
    """The rules loading and ``classify`` use: the packaged ones plus the files or folders
    named in ``$WORKBENCH_BOUNCE_RULES`` (loaded once per value).

    Raises
    ------
    ConfigError
        A named file is missing or malformed.
    """
    return _site_rules(os.environ.get(RULES_ENV, ""))


@lru_cache(maxsize=4)
def _site_rules(value: str) -> RuleSet:
    paths = [p for p in value.split(os.pathsep) if p.strip()]
    return RuleSet.load(paths) if paths else default_rules()
