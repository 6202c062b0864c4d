"""Jinja2 templates (autoescape on) with the locale's gettext and formatting filters.

Every page renders through :func:`render`, which adds what base.html needs:
the request, the locale and its ``_``/``ngettext``, the signed-in staff
account (or portal customer), the navigation the role may use, ``url``
(a path for a route name) and ``static`` (a versioned static file URL).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from admin_ui import i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/admin/static"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["money"] = _money
    env.filters["basis_points"] = _basis_points
    env.filters["date"] = _date
    env.globals["static"] = static_url
    return env


@functools.cache
def static_url(name: str) -> str:
    """``/admin/static/<name>?v=<content hash>``: cacheable for a year, busted on change."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?v={digest}"


@pass_context
def _number(context: Context, value: Any) -> str:
    return i18n.format_number(value, context["locale"])


@pass_context
def _money(context: Context, value: int | None, currency: str, exponent: int = 2) -> str:
    return i18n.format_money(value, currency, exponent, context["locale"])


@pass_context
def _basis_points(context: Context, value: int | None) -> str:
    return i18n.format_basis_points(value, context["locale"])


@pass_context
def _date(context: Context, value: Any, fmt: str = "medium") -> str:
    return i18n.format_date(value, context["locale"], fmt)


def base_context(request: Request | None, locale: str) -> dict[str, Any]:
    translations = i18n.translations(locale)

    def gettext(message: str, **variables: Any) -> str:
        """Translate, then fill in ``%(name)s`` (the output is escaped as a whole)."""
        text = translations.gettext(message)
        return text % variables if variables else text

    def ngettext(singular: str, plural: str, count: int, **variables: Any) -> str:
        text = translations.ngettext(singular, plural, count)
        return text % {"num": count, **variables}

    def url(name: str, **params: Any) -> str:
        if request is None:
            return f"/{name}"
        return str(request.url_for(name, **params).path)

    return {
        "request": request,
        "locale": locale,
        "locales": i18n.LOCALES,
        "language_names": i18n.LANGUAGE_NAMES,
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "url": url,
        "current_path": request.url.path if request is not None else "/",
        "mount_path": request.scope.get("root_path", "") if request is not None else "",
    }


def render_string(template: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(context)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    locale: str,
    status: int = 200,
) -> HTMLResponse:
    full = {**base_context(request, locale), **context}
    return HTMLResponse(render_string(template, full), status_code=status)
