"""Settlement (operator): statements per partner and period, their state (sent
and awaiting the answer, agreed, disputed with the refs that differ, settled),
sending a period's statement (again, after a dispute), and recording a payment
made outside Konsort.

Agreeing and disputing is the partners' nodes' work, not a button: the node a
statement is sent to checks it against its own records and answers agreed, or
disputed with the refs that differ (node.services.settlement). The page shows
that answer; after a dispute the operator reconciles and sends the statement
again. All writes go through the services the API uses
(``settlement.statement_unit``, ``settlement.payment_unit``), once per form key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import KonsortError, NotFound, ValidationFailed
from node.services import consortium_view, settlement
from node.services.idempotency import run_idempotent_async

STATE_LABELS = {
    "open": N_("open"),
    "closed": N_("closed: send the statement again"),
    "awaiting_answer": N_("sent, awaiting the answer"),
    "agreed": N_("agreed"),
    "disputed": N_("disputed"),
    "settled": N_("settled"),
}
OUTCOME_LABELS = {"agreed": N_("agreed"), "disputed": N_("disputed"), "rejected": N_("rejected")}
PERIOD_ID_LENGTH = 40
STATEMENT_FIELDS = ("partner", "period_start", "period_end")


def _key() -> str:
    return uuid.uuid4().hex


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def period_view(period: dict[str, Any]) -> dict[str, Any]:
    """A period from the service's JSON view, with datetimes for the templates."""
    return {
        **period,
        "period_start": _time(period["period_start"]),
        "period_end": _time(period["period_end"]),
        "statements": [{**s, "sent_at": _time(s["sent_at"])} for s in period["statements"]],
        "payments": [{**p, "recorded_at": _time(p["recorded_at"])} for p in period["payments"]],
    }


def money_of(manifest: dict[str, Any] | None) -> tuple[str, int]:
    return (manifest["currency"], manifest["exponent"]) if manifest else ("DKK", 2)


def settlement_context(
    periods: list[dict[str, Any]],
    manifest: dict[str, Any] | None,
    *,
    can_manage: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
) -> dict[str, Any]:
    currency, exponent = money_of(manifest)
    partners = [m["node_id"] for m in manifest["members"] if not m["is_self"]] if manifest else []
    return {
        "periods": periods,
        "partners": [(p, p) for p in partners],
        "currency": currency,
        "exponent": exponent,
        "can_manage": can_manage and bool(partners),
        "form": {"partner": "", "period_start": "", "period_end": "", "force": "", **(form or {})},
        "errors": errors or {},
        "key": key or _key(),
        "state_labels": STATE_LABELS,
    }


def period_context(
    period: dict[str, Any],
    manifest: dict[str, Any] | None,
    *,
    can_manage: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
    paid: bool = False,
) -> dict[str, Any]:
    currency, exponent = money_of(manifest)
    outstanding = (period["amount_minor"] or 0) - period["paid_minor"]
    return {
        "period": period,
        "currency": currency,
        "exponent": exponent,
        "outstanding": outstanding,
        "can_pay": can_manage and period["state"] == "agreed" and outstanding > 0,
        "can_send": can_manage and period["state"] in ("open", "closed", "disputed"),
        "form": {"amount": "", "reference": "", **(form or {})},
        "errors": errors or {},
        "key": key or _key(),
        "state_labels": STATE_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "paid": paid,
    }


def parse_amount(text: str, exponent: int) -> int:
    """ "129.60" (or "129,60") in the settlement currency as minor units, > 0."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValidationFailed(
            "write the amount as a number, e.g. 129.60", field="amount"
        ) from None
    minor = amount.scaleb(exponent)
    if not amount.is_finite() or minor != minor.to_integral_value():
        raise ValidationFailed("write the amount as a number, e.g. 129.60", field="amount")
    if minor <= 0:
        raise ValidationFailed("a payment is a positive amount", field="amount")
    return int(minor)


def parse_day(text: str, field: str) -> datetime:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed("give a day as YYYY-MM-DD", field=field) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _manifest(call: PageCall) -> dict[str, Any] | None:
    node = call.node
    overview = consortium_view.consortium_overview(node.db, node.federation, now=node.clock.now())
    found: dict[str, Any] | None = overview["manifest"]
    return found


def _periods(call: PageCall) -> list[dict[str, Any]]:
    node = call.node
    found = settlement.list_periods(node.db, node_id=node.settings.node_id)
    return [period_view(p) for p in found]


def _period(call: PageCall, period_id: str) -> dict[str, Any]:
    node = call.node
    found = settlement.get_period(node.db, node_id=node.settings.node_id, period_id=period_id)
    return period_view(found)


def _period_id(call: PageCall) -> str:
    period_id = str(call.request.path_params["period_id"])
    if len(period_id) > PERIOD_ID_LENGTH:
        raise NotFound("no such settlement period", field="id")
    return period_id


def _can_manage(call: PageCall) -> bool:
    assert call.staff is not None
    return allowed(call.staff.role, "settlement.manage")


async def settlement_page(call: PageCall) -> View:
    periods = await call.run(_periods, call)
    manifest = await call.run(_manifest, call)
    return View(settlement_context(periods, manifest, can_manage=_can_manage(call)))


async def period_page(call: PageCall) -> View:
    period = await call.run(_period, call, _period_id(call))
    manifest = await call.run(_manifest, call)
    paid = call.request.query_params.get("paid") == "1"
    return View(period_context(period, manifest, can_manage=_can_manage(call), paid=paid))


async def send_statement(call: PageCall) -> View | Response:
    """Send our statement of a period (from the list, or again from a period's page)."""
    node = call.node
    posted = await call.form()
    typed = {name: str(posted.get(name, "")).strip()[:40] for name in STATEMENT_FIELDS}
    typed["force"] = "1" if posted.get("force") == "1" else ""
    key = str(posted.get("key", ""))[:64] or _key()
    again = str(posted.get("period_id", ""))[:PERIOD_ID_LENGTH]
    try:
        unit = settlement.statement_unit(
            node.federation,
            partner=typed["partner"],
            period_start=parse_day(typed["period_start"], "period_start"),
            period_end=parse_day(typed["period_end"], "period_end"),
            force=bool(typed["force"]),
            idempotency_key=f"admin-ui:{key}",
            now=node.clock.now(),
        )
        answer = await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        field = exc.field if exc.field in STATEMENT_FIELDS else "period_end"
        manifest = await call.run(_manifest, call)
        if again:
            period = await call.run(_period, call, again)
            context = period_context(
                period, manifest, can_manage=True, errors={"statement": exc.message}
            )
            return View(context, template="staff/settlement_period.html", status=exc.http_status)
        periods = await call.run(_periods, call)
        context = settlement_context(
            periods, manifest, can_manage=True, form=typed, errors={field: exc.message}, key=key
        )
        return View(context, status=exc.http_status)
    target = call.request.url_for("settlement_period", period_id=str(answer.body["id"])).path
    return RedirectResponse(target, status_code=303)


async def record_payment(call: PageCall) -> View | Response:
    assert call.staff is not None
    node = call.node
    period_id = _period_id(call)
    posted = await call.form()
    typed = {name: str(posted.get(name, "")).strip()[:64] for name in ("amount", "reference")}
    key = str(posted.get("key", ""))[:64] or _key()
    manifest = await call.run(_manifest, call)
    try:
        unit = settlement.payment_unit(
            node_id=node.settings.node_id,
            period_id=period_id,
            amount_minor=parse_amount(typed["amount"], money_of(manifest)[1]),
            reference=typed["reference"],
            idempotency_key=f"admin-ui:{key}",
            now=node.clock.now(),
            recorded_by=f"staff:{call.staff.id}",
        )
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500 or isinstance(exc, NotFound):
            raise
        field = exc.field if exc.field in ("amount", "reference") else "amount"
        period = await call.run(_period, call, period_id)
        context = period_context(
            period, manifest, can_manage=True, form=typed, errors={field: exc.message}, key=key
        )
        return View(context, status=exc.http_status)
    target = call.request.url_for("settlement_period", period_id=period_id).path
    return RedirectResponse(f"{target}?paid=1", status_code=303)


PAGES = [
    Page(
        "/settlement",
        "settlement",
        settlement_page,
        action="settlement.view",
        template="staff/settlement.html",
        nav=N_("Settlement"),
    ),
    Page(
        "/settlement/statements",
        "settlement_send",
        send_statement,
        action="settlement.manage",
        template="staff/settlement.html",
        methods=("POST",),
    ),
    Page(
        "/settlement/periods/{period_id}",
        "settlement_period",
        period_page,
        action="settlement.view",
        template="staff/settlement_period.html",
    ),
    Page(
        "/settlement/periods/{period_id}/payments",
        "settlement_payment",
        record_payment,
        action="settlement.manage",
        template="staff/settlement_period.html",
        methods=("POST",),
    ),
]
