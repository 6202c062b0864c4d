"""The operator's program pages: the program in force, its edit form, and the
rewards' stock.

Every change is a new program version through the same service and the same
validation as ``PUT /api/v1/program`` (node.services.program), with the staff
member as its author (``staff:<id>``) and once per form key (a double submit
stores one version). A validation error is shown next to the field it names
and the form keeps what was typed. The stock of a reward is part of the program
(``Reward.stock``): adjusting it stores a new version too. Version history is
admin_ui.staff.program_history; webhooks are admin_ui.staff.program_webhooks.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from admin_ui.staff.program_form import (
    CATEGORIES,
    FIGURES,
    SECTIONS,
    check_comment,
    form_values,
    program_from_form,
    read_form,
)
from node.errors import Conflict, ValidationFailed
from node.program.config import Program, parse_program
from node.services import program as program_service
from node.services import rewards
from node.services.idempotency import run_idempotent_async
from node.services.rewards import StockEntry

MAX_COMMENT = 200


def _key() -> str:
    return uuid.uuid4().hex


def program_context(
    version: int,
    program: Program,
    stock: list[StockEntry],
    *,
    can_manage: bool,
    currency: str,
    exponent: int,
    saved: int | None = None,
) -> dict[str, Any]:
    """The program in force, section by section, and each reward's stock."""
    return {
        "version": version,
        "program": program,
        "stock": stock,
        "can_manage": can_manage,
        "currency": currency,
        "exponent": exponent,
        "saved": saved,
    }


def edit_context(
    version: int,
    form: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    comment: str = "",
    key: str = "",
) -> dict[str, Any]:
    """The edit form: figures, categories and the JSON sections, with errors by field."""
    return {
        "version": version,
        "form": form,
        "errors": errors or {},
        "comment": comment,
        "key": key or _key(),
        "figures": FIGURES,
        "categories": CATEGORIES,
        "sections": SECTIONS,
    }


def stock_context(
    version: int,
    stock: list[StockEntry],
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
    can_manage: bool = False,
    saved: int | None = None,
) -> dict[str, Any]:
    """Each reward's stock, issued and left, with a form per reward to set its stock."""
    values = {
        entry.reward.code: "" if entry.reward.stock is None else str(entry.reward.stock)
        for entry in stock
    }
    errors = errors or {}
    return {
        "version": version,
        "stock": stock,
        "values": {**values, **(typed or {})},
        #: Errors with no form beside which to show them (a reward gone meanwhile).
        "unplaced": [text for code, text in errors.items() if not can_manage or code not in values],
        "errors": errors or {},
        "key": key or _key(),
        "can_manage": can_manage,
        "saved": saved,
    }


def _saved_version(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


async def _in_force(call: PageCall) -> program_service.ProgramInForce:
    node = call.node
    found: program_service.ProgramInForce = await call.run(
        program_service.current_program, node.db, node.settings, now=node.clock.now()
    )
    return found


async def _stock(call: PageCall) -> list[StockEntry]:
    node = call.node
    found: list[StockEntry] = await call.run(
        rewards.stock_levels, node.db, node.settings, now=node.clock.now()
    )
    return found


async def _save(call: PageCall, program: Program, *, comment: str | None, key: str) -> int:
    """Store ``program`` as the next version by this staff member, once per form key."""
    assert call.staff is not None
    node = call.node
    unit = program_service.program_update_unit(
        node.settings,
        program=program,
        actor=f"staff:{call.staff.id}",
        comment=comment or None,
        idempotency_key=f"admin-ui:{key}",
        now=node.clock.now(),
    )
    answer = await run_idempotent_async(node.db, unit)
    return int(answer.body["version"])


async def program_page(call: PageCall) -> View:
    assert call.staff is not None
    node = call.node
    found = await _in_force(call)
    return View(
        program_context(
            found.version,
            found.program,
            await _stock(call),
            can_manage=allowed(call.staff.role, "program.manage"),
            currency=node.settings.currency,
            exponent=node.settings.currency_exponent,
            saved=_saved_version(call.request.query_params.get("saved")),
        )
    )


async def edit_page(call: PageCall) -> View | Response:
    """GET: the form with the program in force. POST: validate and store a new version."""
    found = await _in_force(call)
    if call.request.method == "GET":
        return View(edit_context(found.version, form_values(found.program)))
    posted = await call.form()
    typed = read_form(posted)
    comment = str(posted.get("comment", ""))[: MAX_COMMENT + 1]
    key = str(posted.get("key", ""))[:64] or _key()
    try:
        program = program_from_form(found.program, typed)
        version = await _save(call, program, comment=check_comment(comment), key=key)
    except (ValidationFailed, Conflict) as exc:
        field = exc.field if exc.field in typed or exc.field == "comment" else "form"
        errors = {field or "form": call.gettext(exc.message)}
        return View(
            edit_context(found.version, typed, errors=errors, comment=comment, key=key),
            status=exc.http_status,
        )
    target = call.request.url_for("program").path
    return RedirectResponse(f"{target}?saved={version}", status_code=303)


def _with_stock(current: Program, code: str, stock: int | None) -> Program:
    data = current.model_dump(mode="json")
    for reward in data["rewards"]:
        if reward["code"] == code:
            reward["stock"] = stock
    return parse_program(data)


async def stock_page(call: PageCall) -> View:
    assert call.staff is not None
    found = await _in_force(call)
    return View(
        stock_context(
            found.version,
            await _stock(call),
            can_manage=allowed(call.staff.role, "program.manage"),
            saved=_saved_version(call.request.query_params.get("saved")),
        )
    )


async def set_stock(call: PageCall) -> View | Response:
    """Set one reward's stock: a new program version."""
    found = await _in_force(call)
    posted = await call.form()
    code = str(posted.get("reward", ""))[:40]
    text = str(posted.get("stock", ""))[:20].strip()
    key = str(posted.get("key", ""))[:64] or _key()
    try:
        if found.program.reward(code) is None:
            raise ValidationFailed(N_("This reward is no longer in the program."), field=code)
        if text and (not text.isdigit() or len(text) > 10):
            raise ValidationFailed(
                N_("Enter a whole number, 0 or more, or leave empty for unlimited."), field=code
            )
        program = _with_stock(found.program, code, int(text) if text else None)
        version = await _save(call, program, comment=f"stock of {code}", key=key)
    except (ValidationFailed, Conflict) as exc:
        return View(
            stock_context(
                found.version,
                await _stock(call),
                typed={code: text},
                errors={code: call.gettext(exc.message)},
                key=key,
                can_manage=True,
            ),
            status=exc.http_status,
        )
    target = call.request.url_for("program_stock").path
    return RedirectResponse(f"{target}?saved={version}", status_code=303)


PAGES = [
    Page(
        "/program",
        "program",
        program_page,
        action="program.view",
        template="staff/program.html",
        nav=N_("Program"),
    ),
    Page(
        "/program/edit",
        "program_edit",
        edit_page,
        action="program.manage",
        template="staff/program_edit.html",
        methods=("GET", "POST"),
    ),
    Page(
        "/program/rewards",
        "program_stock",
        stock_page,
        action="program.view",
        template="staff/program_stock.html",
    ),
    Page(
        "/program/rewards/stock",
        "program_set_stock",
        set_stock,
        action="program.manage",
        template="staff/program_stock.html",
        methods=("POST",),
    ),
]
