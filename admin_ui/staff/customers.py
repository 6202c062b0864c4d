"""The operator's customers pages: search, and one member's page.

The search form (``/customers``) shows nothing about anyone. Its results
(``/customers/search``) reveal who matched, so that page is audited on
every view (``audited``; the entry names the customer when one matched).
The form is posted, so an email typed into it never sits in a URL (browser
history, a reverse proxy's access log).
One box takes a member number, an opaque id or an email; the email is
looked up through its keyed digest (node.services.customer_search).

A member's page (``/customers/{customer_id}``) shows their personal data,
balance, lots and expiry, tier and progress, a page of history, partner
links, vouchers and consents, and, for roles with ``customers.adjust``, the
form for a manual adjustment (admin_ui.staff.customers_adjust). It sets
``personal_data`` so admin_ui.pages records each view. An erased member
shows as erased with no personal data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from admin_ui.portal.home import KIND_LABELS
from admin_ui.portal.partners import STATUS_LABELS as LINK_LABELS
from node.errors import Conflict, NotFound, RequestError
from node.services import customer_card, customer_search
from node.services.customer_card import CustomerCard

#: Opaque customer ids are at most this long (customer.id is String(40)).
CUSTOMER_ID_LENGTH = 40
HISTORY_LABELS = {**KIND_LABELS, "adjustment": N_("Manual adjustment")}
STATUS_LABELS = {"active": N_("active"), "erased": N_("erased")}
MATCH_LABELS = {
    "email": N_("email"),
    "id": N_("customer id"),
    "number": N_("member number"),
}
VOUCHER_LABELS = {
    "issued": N_("issued"),
    "used": N_("used"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
}
CONSENT_LABELS = {
    "granted": N_("given"),
    "withdrawn": N_("withdrawn"),
    "not_given": N_("not given"),
    "contract": N_("part of the membership"),
}


def _key() -> str:
    return uuid.uuid4().hex


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def search_context(
    match: customer_search.Match | None = None,
    *,
    query: str = "",
    error: str | None = None,
) -> dict[str, Any]:
    """The search form, with what was typed, and its one match or the reason for none."""
    return {
        "query": query,
        "errors": {"q": error} if error else {},
        "match": match,
        "match_labels": MATCH_LABELS,
        "status_labels": STATUS_LABELS,
    }


def masked_voucher(code: str) -> str:
    """A voucher code is its holder's to use: staff see its last group only."""
    groups = code.split("-")
    return "-".join(["••••"] * (len(groups) - 1) + groups[-1:])


def customer_context(
    card: CustomerCard,
    *,
    can_adjust: bool,
    currency: str = "DKK",
    exponent: int = 2,
    cursor: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
    done: str | None = None,
) -> dict[str, Any]:
    """One member's page; an erased member's holds no personal data."""
    tier = None
    if card.tier is not None and card.tier.tier is not None:
        status = card.tier
        tier = {
            "name": status.tier.name if status.tier else "",
            "since": status.since,
            "value": status.qualifying_value,
            "spend": status.basis == "spend",
            "next_name": status.next_tier.name if status.next_tier else None,
            "next_threshold": status.next_tier.threshold if status.next_tier else None,
            "to_next": status.to_next_tier,
        }
    history = card.history
    return {
        "customer": card,
        "profile": None if card.erased else card.profile,
        "tier": tier,
        "history": [
            {
                **item,
                "label": HISTORY_LABELS.get(item["kind"], N_("Other")),
                "created_at": _moment(item["created_at"]),
            }
            for item in (history.items if history else [])
        ],
        "cursor": cursor,
        "next_cursor": history.next_cursor if history else None,
        "links": [{**link, "since": _moment(link["since"])} for link in card.links],
        "vouchers": [
            {
                **voucher,
                "code": masked_voucher(voucher["code"]),
                "issued_at": _moment(voucher["issued_at"]),
                "expires_at": _moment(voucher["expires_at"]),
            }
            for voucher in card.vouchers
        ],
        "can_adjust": can_adjust and card.status == "active",
        "form": {"points": "", "reason": "", **(form or {})},
        "errors": errors or {},
        "key": key or _key(),
        "done": done,
        "currency": currency,
        "exponent": exponent,
        "status_labels": STATUS_LABELS,
        "link_labels": LINK_LABELS,
        "voucher_labels": VOUCHER_LABELS,
        "consent_labels": CONSENT_LABELS,
    }


async def search_form(call: PageCall) -> View:
    return View(search_context())


_SEARCH_ERRORS = {
    "validation_failed": N_(
        "Type a member number (like 3F2A-9C01-77BE), a customer id or an email."
    ),
    "not_found": N_("No customer matches this."),
    "ambiguous_member_number": N_(
        "More than one customer has this member number. Search by the customer id."
    ),
}


async def search_page(call: PageCall) -> View:
    """The one match of the query, or the form again with the reason (audited)."""
    node = call.node
    posted = await call.form()
    query = str(posted.get("q", ""))[: customer_search.MAX_QUERY + 1]
    try:
        match = await call.run(
            customer_search.find_customer, node.db, secrets=node.secrets, query=query
        )
    except (RequestError, NotFound, Conflict) as exc:
        message = call.gettext(_SEARCH_ERRORS.get(exc.code, _SEARCH_ERRORS["validation_failed"]))
        return View(search_context(query=query, error=message), status=exc.http_status)
    return View(search_context(match, query=query), customer_id=match.customer_id)


def customer_id_of(call: PageCall) -> str:
    value = str(call.request.path_params["customer_id"])
    if len(value) > CUSTOMER_ID_LENGTH:
        raise NotFound("no such customer", field="customer_id")
    return value


async def show_customer(
    call: PageCall,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
    status: int = 200,
) -> View:
    """A member's page (the adjustment form re-renders it with the user's input)."""
    assert call.staff is not None
    node = call.node
    customer_id = customer_id_of(call)
    cursor = call.request.query_params.get("cursor") or None
    try:
        card = await call.run(
            customer_card.customer_card,
            node.db,
            node.settings,
            secrets=node.secrets,
            fed=node.federation,
            customer_id=customer_id,
            now=node.clock.now(),
            history_cursor=cursor,
        )
    except RequestError:  # a cursor this page did not make: start from the newest
        cursor = None
        card = await call.run(
            customer_card.customer_card,
            node.db,
            node.settings,
            secrets=node.secrets,
            fed=node.federation,
            customer_id=customer_id,
            now=node.clock.now(),
        )
    context = customer_context(
        card,
        can_adjust=allowed(call.staff.role, "customers.adjust"),
        currency=node.settings.currency,
        exponent=node.settings.currency_exponent,
        cursor=cursor,
        form=form,
        errors=errors,
        key=key,
        done=call.request.query_params.get("done"),
    )
    return View(context, template="staff/customer.html", status=status, customer_id=card.id)


async def customer_page(call: PageCall) -> View:
    return await show_customer(call)


PAGES = [
    Page(
        "/customers",
        "customers",
        search_form,
        action="customers.view",
        template="staff/customers.html",
        nav=N_("Customers"),
    ),
    Page(
        "/customers/search",
        "customers_search",
        search_page,
        action="customers.view",
        template="staff/customers.html",
        methods=("POST",),
        audited=True,
    ),
    Page(
        "/customers/{customer_id}",
        "customer",
        customer_page,
        action="customers.view",
        template="staff/customer.html",
        personal_data=True,
    ),
]
