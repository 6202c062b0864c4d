"""Finding a member at the support desk: by member number, opaque id or email.

One search box takes any of the three; what was typed decides which:

- an email (it holds ``@``) is looked up through its keyed digest
  (node.services.personal_data.email_digest), the way the operator API's
  lookup does: no stored email is ever read or compared in plain;
- an opaque id (``cus_...``) is looked up as it is;
- anything else is a member number: :func:`member_number` shows the first
  twelve hex digits of the opaque id in groups of four (``3F2A-9C01-77BE``),
  short enough to read out at the till. Spaces, dashes and case do not
  matter. Two members sharing those digits (a 1 in 2^48 chance per pair)
  are refused as ambiguous: search by the opaque id then.

The match names the member (their decrypted name), so showing it is a view
of personal data: the admin UI page that shows it is audited. Nothing here
writes or audits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.secrets import NodeSecrets
from node.services import personal_data as pd
from node.services import profiles
from node.services.erasure import ERASED
from node.store import customers as store

ID_PREFIX = "cus_"
#: Hex digits of the opaque id that make up the member number.
NUMBER_DIGITS = 12
_NUMBER = re.compile(r"^[0-9a-f]{12}$")
_OPAQUE_ID = re.compile(r"^cus_[0-9a-f]{1,36}$")
MAX_QUERY = 320


def member_number(customer_id: str) -> str:
    """The member number of an opaque id: ``cus_3f2a9c0177be...`` -> ``3F2A-9C01-77BE``."""
    digits = customer_id.removeprefix(ID_PREFIX)[:NUMBER_DIGITS].upper()
    return "-".join(digits[i : i + 4] for i in range(0, len(digits), 4))


@dataclass(frozen=True)
class Match:
    customer_id: str
    member_number: str
    status: str
    enrolled_at: datetime
    #: "email", "id" or "number": how the query was read.
    matched_by: str
    #: The member's name; None when erased or never given.
    name: str | None


def query_kind(query: str) -> str:
    """How a search box entry is read: "email", "id" or "number"."""
    text = query.strip()
    if "@" in text:
        return "email"
    if text.lower().startswith(ID_PREFIX):
        return "id"
    return "number"


def _customer_id(db: Database, secrets: NodeSecrets, kind: str, text: str) -> str:
    if kind == "email":
        return _by_email(db, secrets, text)
    if kind == "id":
        if not _OPAQUE_ID.match(text.lower()):
            raise ValidationFailed("a customer id looks like cus_ and hex digits", field="q")
        return text.lower()
    digits = re.sub(r"[\s-]", "", text).lower()
    if not _NUMBER.match(digits):
        raise ValidationFailed(
            "a member number has twelve digits and letters A-F, e.g. 3F2A-9C01-77BE", field="q"
        )
    with db.read() as session:
        found = store.customer_ids_by_prefix(session=session, prefix=ID_PREFIX + digits, limit=2)
    if not found:
        raise NotFound("no customer has this member number", field="q")
    if len(found) > 1:
        raise Conflict(
            "more than one customer has this member number; search by the customer id",
            field="q",
            code="ambiguous_member_number",
        )
    return found[0]


def _by_email(db: Database, secrets: NodeSecrets, email: str) -> str:
    with db.read() as session:
        found = store.customer_id_by_email_digest(
            session=session, digest=pd.email_digest(secrets, email)
        )
    if found is None:
        raise NotFound("no customer has this email", field="q")
    return found


def find_customer(db: Database, *, secrets: NodeSecrets, query: str) -> Match:
    """The one member the query names; ValidationFailed, NotFound or Conflict otherwise."""
    text = query.strip()
    if not text:
        raise ValidationFailed("type a member number, a customer id or an email", field="q")
    if len(text) > MAX_QUERY:
        raise ValidationFailed("that is too long for a search", field="q")
    kind = query_kind(text)
    customer_id = _customer_id(db, secrets, kind, text)
    with db.read() as session:
        status = store.customer_status(session=session, customer_id=customer_id)
        if status is None:
            raise NotFound("no customer has this id", field="q")
        name = None
        if status[0] != ERASED and store.sealed_profile(session=session, customer_id=customer_id):
            name = profiles.read_profile_txn(
                session=session, secrets=secrets, customer_id=customer_id
            ).name
    return Match(customer_id, member_number(customer_id), status[0], status[1], kind, name)
