"""Every template renders with empty and with full data, in every language, escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_ui.i18n import LOCALES, translations
from admin_ui.rendering import TEMPLATES, base_context, render_string
from tests.admin_ui.samples import ACCOUNT, SAMPLES

PAGES = sorted(
    str(path.relative_to(TEMPLATES))
    for path in TEMPLATES.rglob("*.html")
    if not path.name.startswith("_") and path.name != "base.html"
)


def test_every_template_has_samples() -> None:
    assert sorted(SAMPLES) == PAGES


def _chrome(signed_in: bool) -> dict[str, object]:
    return {
        "node_name": "Café <Aroma>",
        "staff": ACCOUNT if signed_in else None,
        "member": None,
        "navigation": [("home", "Start")] if signed_in else [],
        "page_name": "home",
    }


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", PAGES)
@pytest.mark.parametrize("fullness", ["empty", "full"])
def test_template_renders(template: str, fullness: str, locale: str) -> None:
    context = SAMPLES[template][0 if fullness == "empty" else 1]
    html = render_string(
        template, {**base_context(None, locale), **_chrome(fullness == "full"), **context}
    )
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert f'<html lang="{locale}">' in html
    assert "Café &lt;Aroma&gt;" in html and "<Aroma>" not in html
    assert "<script" not in html and " style=" not in html
    if fullness == "full" and template == "staff/users.html":
        assert "Nina &lt;b&gt;" in html


@pytest.mark.parametrize("locale", ["da", "nb"])
def test_catalogues_translate_every_message(locale: str) -> None:
    catalogue = Path(__file__).resolve().parents[2] / "admin_ui" / "i18n" / "messages.pot"
    from babel.messages.pofile import read_po

    with catalogue.open("rb") as source:
        template = read_po(source)
    # Words spelt the same in English and the locale may stay as they are.
    same = {"Start", "Status"}
    untranslated = [
        message.id
        for message in template
        if message.id
        and message.id not in same
        and translations(locale).gettext(str(message.id)) == message.id
    ]
    assert untranslated == []
