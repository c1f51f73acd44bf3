"""Templates: the sandbox, the text part made from the HTML, CSS inlining, the checks."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from workbench.errors import ConfigError
from workbench.sending.templates import (
    SENDER_VARIABLES,
    check,
    compile_template,
    load_template,
    preview,
    template_from_strings,
    template_names,
    text_from_html,
)

SENDER = {"unsubscribe_url": "https://t.example/u/x", "campaign_id": "c1", "email": "ana@example.com",
          "contact_id": "C1"}


def _render(html: str, values: dict[str, object], subject: str = "Hi", **kw: object):
    return compile_template(template_from_strings("t", subject, html, **kw)).render({**SENDER, **values})


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ first_name.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ [].append(1) }}",
    "{{ {}.update(a=1) }}",
])
def test_the_sandbox_refuses_internals_and_mutation(source):
    with pytest.raises(ConfigError, match=r"failed|unsafe|access"):
        _render(f"<p>{source}</p>", {"first_name": "Ana"})


@pytest.mark.parametrize("source", ["{% include 'x.html' %}", "{% import 'x' as y %}", "{% extends 'base' %}"])
def test_no_file_access(source):
    with pytest.raises(ConfigError):
        _render(source, {})


def test_values_are_escaped_in_html_and_raw_in_text():
    out = _render("<p>{{ first_name }}</p>", {"first_name": "<b>Ana & Bo</b>"})
    assert "&lt;b&gt;Ana &amp; Bo&lt;/b&gt;" in out.html
    assert "<b>Ana & Bo</b>" in out.text


def test_defaults_fill_what_a_contact_lacks():
    t = template_from_strings("t", "Hi {{ first_name }}", "<p>{{ first_name }} in {{ city }}</p>",
                              defaults={"first_name": "there", "city": "your city"})
    out = compile_template(t).render({**SENDER, "first_name": None, "city": "Lyon"})
    assert out.subject == "Hi there" and "there in Lyon" in out.html


def test_a_missing_variable_fails_the_render_with_advice():
    with pytest.raises(ConfigError, match=r"'first_name' is undefined.*defaults"):
        _render("<p>{{ first_name }}</p>", {})


def test_check_finds_missing_and_incomplete_variables():
    t = template_from_strings("t", "Hello {{ first_name }}", "<p>{{ first_name }} {{ loyalty_tier }} {{ city|default('') }}"
                              "{% if coupon is defined %}{{ coupon }}{% endif %} {{ unsubscribe_url }}</p>")
    people = pl.DataFrame({"contact_id": ["C1", "C2", "C3"], "email": ["a@x.example"] * 3,
                           "first_name": ["Ana", None, None]})
    result = check(t, people)
    assert result.missing == ("loyalty_tier",)
    assert dict(result.incomplete) == {"first_name": 2}
    assert "city" not in result.missing and "coupon" not in result.missing
    assert not result.ok and result.warnings == ()
    assert set(result.variables) >= {"first_name", "loyalty_tier", "city", "coupon"}


def test_check_warns_without_a_visible_unsubscribe_link():
    result = check(template_from_strings("t", "s", "<p>no link</p>"), pl.DataFrame({"contact_id": ["C"], "email": ["a@b.c"]}))
    assert result.ok and result.warnings and "unsubscribe" in result.warnings[0]


def test_sender_variables_are_never_missing():
    source = " ".join(f"{{{{ {v} }}}}" for v in sorted(SENDER_VARIABLES))
    result = check(template_from_strings("t", "s", f"<p>{source}</p>"), pl.DataFrame({"contact_id": ["C"], "email": ["a@b.c"]}))
    assert result.missing == ()


def test_text_part_is_made_from_the_html_template_with_tags_kept():
    html = ('<html><body><h1>Hello {{ first_name }}</h1><table><tr><td><p>{% if city %}News for {{ city }}{% endif %}</p>'
            '<p><a href="https://shop.example/p?c={{ campaign_id }}&amp;x=1">See it</a></p></td></tr></table></body></html>')
    text = text_from_html(html)
    assert "{{ first_name }}" in text and "{% if city %}" in text
    assert "(https://shop.example/p?c={{ campaign_id }}&x=1)" in text
    assert "<" not in text.replace("{{", "").replace("{%", "")
    rendered = _render(html, {"first_name": "Ana", "city": "Lyon"})
    assert "Hello Ana" in rendered.text and "News for Lyon" in rendered.text
    assert "https://shop.example/p?c=c1&x=1" in rendered.text
    assert all(line == line.rstrip() for line in rendered.text.splitlines())


def test_a_given_text_part_is_used_as_is():
    out = _render("<p>html</p>", {}, text="plain {{ campaign_id }}")
    assert out.text == "plain c1"


def test_css_is_inlined_and_remote_stylesheets_are_not_fetched():
    html = ('<html><head><link rel="stylesheet" href="http://192.0.2.1:9/evil.css"><style>p { color: red } '
            '@media (max-width: 600px) { p { color: blue } }</style></head><body><p>x</p></body></html>')
    out = _render(html, {})
    assert 'style="color: red' in out.html or "style=\"color: red;" in out.html
    assert "@media" in out.html


def test_subject_layout_is_collapsed_but_a_value_keeps_its_line_break():
    t = template_from_strings("t", "Hello\n  {{ first_name }}", "<p>x</p>")
    assert compile_template(t).render({**SENDER, "first_name": "Ana"}).subject == "Hello Ana"
    assert "\r\n" in compile_template(t).render({**SENDER, "first_name": "Ana\r\nBcc: x"}).subject


def test_syntax_errors_name_the_part_and_line():
    with pytest.raises(ConfigError, match="html line 2"):
        compile_template(template_from_strings("t", "s", "<p>\n{% if %}</p>"))
    with pytest.raises(ConfigError, match="subject line 1"):
        compile_template(template_from_strings("t", "{{ a ", "<p></p>"))


def test_shipped_templates_load_and_render():
    assert {"newsletter", "password-reset"} <= set(template_names())
    news = load_template("newsletter")
    out = preview(news, {"first_name": "Ana", "city": "Paris", "email": "ana@example.com"})
    assert out.subject == "Ana, this week's picks for Paris"
    assert "Hello Ana" in out.html and "Hello Ana" in out.text and "<style" not in out.html.split("<body")[1]
    reset = load_template("password-reset")
    assert check(reset, pl.DataFrame({"contact_id": ["C"], "email": ["a@b.c"]})).missing == ("reset_url",)


def test_project_templates_come_first_and_bad_ones_are_explained(tmp_path: Path):
    folder = tmp_path / "templates" / "promo"
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text("subject: Sale {{ first_name }}\ndefaults: {first_name: friend}\n")
    (folder / "html.j2").write_text("<p>Sale</p>")
    assert "promo" in template_names(tmp_path)
    assert load_template("promo", root=tmp_path).defaults == {"first_name": "friend"}
    assert load_template(folder).name == "promo"
    with pytest.raises(ConfigError, match=r"no template 'nope'.*known: .*newsletter"):
        load_template("nope", root=tmp_path)
    (folder / "template.yaml").write_text("from_name: x\n")
    with pytest.raises(ConfigError, match="needs a subject"):
        load_template("promo", root=tmp_path)
    (folder / "template.yaml").write_text("subject: s\ndefaults: [1]\n")
    with pytest.raises(ConfigError, match="defaults must be a mapping"):
        load_template("promo", root=tmp_path)
    (folder / "html.j2").unlink()
    (folder / "template.yaml").write_text("subject: s\n")
    with pytest.raises(ConfigError, match=r"no html.j2"):
        load_template("promo", root=tmp_path)
    (folder / "html.j2").write_bytes(b"x" * (600 << 10))
    with pytest.raises(ConfigError, match="KiB"):
        load_template("promo", root=tmp_path)


def test_preheader_comes_from_the_template():
    t = template_from_strings("t", "s", "<span>{{ preheader }}</span>", preheader="Our picks")
    assert "Our picks" in compile_template(t).render(SENDER).html
