"""THE permission table: which role may do what in the admin UI.

Every staff page declares one action (admin_ui.pages.Page.action); a role
reaches a page exactly when the action is in its set below. Auditors read
everything they may see and change nothing: their set holds only ``*.view``
actions (a test checks that). Add a page's action here, with a line in
ACTIONS, in the same change as the page.
"""

from __future__ import annotations

from node.store.staff_models import ROLES

#: Every action a page may require, with what it allows.
ACTIONS: dict[str, str] = {
    "home.view": "see the start page and one's own account",
    "kpis.view": "see the KPI dashboard and its charts",
    "staff.view": "see the list of staff users",
    "staff.manage": "create staff users, change their role, disable them, reset their "
    "second factor",
    "privacy.requests.view": "see the data-subject request queue and each request's review",
    "privacy.requests.manage": "verify, approve (carry out), reject and extend requests; "
    "deliver a partner notice now",
    "privacy.export.download": "download a member's access export (personal data; audited)",
    "privacy.audit.view": "see the audit log and whether its hash chain verifies",
    "privacy.consent.view": "see consent counts per purpose and wording version, withdrawals",
    "privacy.consent.history": "see one member's consent history (personal data; audited)",
    "privacy.consent.manage": "publish new wording for a consent purpose",
    "privacy.retention.view": "see retention policies and past runs",
    "privacy.retention.run": "start a retention dry run or a real run",
    "privacy.exports.view": "see the bookkeeping and compliance exports",
    "privacy.exports.download": "download the ledger CSV, consent records CSV, Art. 30 record "
    "(audited)",
    "partners.view": "see the consortium's members and keys, this node's keys, the outbox "
    "per partner and the rewards offered to partners",
    "partners.manage": "send an outbox message again now, cancel a transfer never sent, "
    "make a new signing key",
    "settlement.view": "see settlement periods, statements, answers and payments",
    "settlement.manage": "send a period's statement, record a payment made outside Konsort",
    "customers.view": "search members and open a member's page (personal data; audited)",
    "customers.adjust": "adjust a member's points by hand, with a reason (a ledger entry)",
    "apikeys.view": "see the operator API keys (names and prefixes, never a secret)",
    "apikeys.manage": "create an operator API key (shown once) and revoke keys",
    "program.view": "see the program in force, its version history, rewards' stock and webhooks",
    "program.manage": "change the program (a new version), set a reward's stock, "
    "add and disable webhooks",
    "account.manage": "change one's own password and second factor",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"home.view", "kpis.view", "staff.view", "staff.manage"}),
    "privacy_officer": frozenset({"home.view"}),
    "auditor": frozenset({"home.view", "kpis.view", "staff.view"}),
}

# The privacy officer's pages (issue 10). Auditors read the queue and the audit
# log but download no member's personal data.
PERMISSIONS["privacy_officer"] |= {
    "privacy.requests.view",
    "privacy.requests.manage",
    "privacy.export.download",
    "privacy.audit.view",
}
PERMISSIONS["auditor"] |= {"privacy.requests.view", "privacy.audit.view"}

# The rest of the privacy officer's pages: consent, retention, exports. Auditors
# see counts, policies and runs, but no member's history and no downloads.
PERMISSIONS["privacy_officer"] |= {
    "privacy.consent.view",
    "privacy.consent.history",
    "privacy.consent.manage",
    "privacy.retention.view",
    "privacy.retention.run",
    "privacy.exports.view",
    "privacy.exports.download",
}
PERMISSIONS["auditor"] |= {"privacy.consent.view", "privacy.retention.view", "privacy.exports.view"}

# The operator's partners and settlement pages (issue 10). Auditors read them;
# the privacy officer has no part in them.
PERMISSIONS["operator"] |= {
    "partners.view",
    "partners.manage",
    "settlement.view",
    "settlement.manage",
}
PERMISSIONS["auditor"] |= {"partners.view", "settlement.view"}
# The operator's customers and API keys pages (issue 10). Auditors see which API
# keys exist but no member's personal data. The privacy officer gets neither:
# their work with one member goes through the request pages and the consent
# history (opaque ids), and balances and keys are the operator's business.
PERMISSIONS["operator"] |= {"customers.view", "customers.adjust", "apikeys.view", "apikeys.manage"}
PERMISSIONS["auditor"] |= {"apikeys.view"}
# The operator's program pages (issue 10). Auditors read the program, its
# history and the webhooks; privacy officers get nothing here.
PERMISSIONS["operator"] |= {"program.view", "program.manage"}
PERMISSIONS["auditor"] |= {"program.view"}
# My account (issue 10): operators and privacy officers change their own password
# and second factor; auditors only read (an operator changes an auditor's account).
# staff.manage now also covers role changes, disabling and TOTP resets (users.py).
PERMISSIONS["operator"] |= {"account.manage"}
PERMISSIONS["privacy_officer"] |= {"account.manage"}

assert set(PERMISSIONS) == set(ROLES)
assert all(actions <= set(ACTIONS) for actions in PERMISSIONS.values())


def allowed(role: str, action: str) -> bool:
    """May ``role`` do ``action``? Unknown roles and actions may do nothing."""
    return action in PERMISSIONS.get(role, frozenset())
