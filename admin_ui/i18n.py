"""Languages of the admin UI and portal: English, Danish, Norwegian Bokmål.

Catalogues are gettext ``.po`` files under ``admin_ui/i18n/<locale>/LC_MESSAGES/``,
read at start-up with Babel (``read_po``) into gettext translations, so no
compile step and no ``.mo`` file in the tree. ``make i18n`` extracts the
messages of templates and code into ``messages.pot`` and updates the
catalogues (pybabel extract/update).

The language of a request: the ``konsort_lang`` cookie (set by the switch
in every page's footer) when it names a known locale, else the best match
of ``Accept-Language``, else English. Numbers, money and dates are
formatted for the locale by the Jinja filters below.
"""

from __future__ import annotations

import functools
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency as babel_format_currency
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALES: tuple[str, ...] = ("en", "da", "nb")
DEFAULT_LOCALE = "en"
LANGUAGE_NAMES = {"en": "English", "da": "Dansk", "nb": "Norsk bokmål"}
LANG_COOKIE = "konsort_lang"
CATALOGUES = Path(__file__).parent / "i18n"
#: Accept-Language primary tags that mean one of our locales.
_ALIASES = {"en": "en", "da": "da", "nb": "nb", "no": "nb", "nn": "nb"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark a string for extraction; templates translate it with ``_()``."""
    return message


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The locale's catalogue (English is the source language: no catalogue)."""
    path = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def parse_accept_language(header: str) -> list[str]:
    """Our locales in the order the header prefers them."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = _ALIASES.get(tag.strip().lower().split("-")[0])
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    found: list[str] = []
    for _, _, locale in sorted(ranked):
        if locale not in found:
            found.append(locale)
    return found


def request_locale(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return str(chosen)
    preferred = parse_accept_language(request.headers.get("accept-language", ""))
    return preferred[0] if preferred else DEFAULT_LOCALE


def format_number(value: int | Decimal | None, locale: str, pattern: str | None = None) -> str:
    if value is None:
        return "–"
    return format_decimal(value, format=pattern, locale=Locale.parse(locale))


def format_money(minor_units: int | None, currency: str, exponent: int, locale: str) -> str:
    """An amount in minor units (øre) as money: 1234 DKK → "12,34 kr." in Danish."""
    if minor_units is None:
        return "–"
    amount = Decimal(minor_units).scaleb(-exponent)
    return babel_format_currency(amount, currency, locale=Locale.parse(locale))


def format_basis_points(value: int | None, locale: str) -> str:
    """4567 basis points → "45.67 %" (locale-formatted)."""
    if value is None:
        return "–"
    number = format_decimal(
        Decimal(value).scaleb(-2), format="#,##0.00", locale=Locale.parse(locale)
    )
    return f"{number} %"


def format_date(value: date | datetime | None, locale: str, fmt: str = "medium") -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return babel_format_datetime(value, fmt, locale=Locale.parse(locale))
    return babel_format_date(value, fmt, locale=Locale.parse(locale))
