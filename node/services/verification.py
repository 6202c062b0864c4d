"""`konsort ledger verify`: every ledger invariant, checked from the rows alone.

1. each transaction's entries sum to zero, and touch accounts of one unit
   (points, or store credit in the node's currency);
2. all entries of each unit together sum to zero;
3. each running balance (member, store-credit and debt accounts) equals the
   sum of its entries;
4. no member balance (points or store credit) is negative, and no debt
   account is positive;
5. each lot's remaining points equal its amount minus what was taken from it;
6. each customer balance equals the points left in that customer's lots.

Violations are reported by internal row id only, never with personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.db import Database
from node.store import ledger_checks as checks


@dataclass(frozen=True)
class VerificationReport:
    violations: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def verify_ledger(db: Database) -> VerificationReport:
    violations: list[str] = []
    with db.read() as session:
        for txn_id, total in checks.unbalanced_transactions(session=session):
            violations.append(f"transaction {txn_id}: entries sum to {total}, not 0")
        for txn_id in checks.mixed_unit_transactions(session=session):
            violations.append(f"transaction {txn_id}: entries mix units")
        for unit, total in checks.ledger_totals_by_unit(session=session).items():
            if total != 0:
                violations.append(f"all {unit} entries sum to {total}, not 0")
        for account_id, stored, summed in checks.drifted_balances(session=session):
            violations.append(f"account {account_id}: balance {stored} but entries sum to {summed}")
        for account_id, balance in checks.negative_customer_balances(session=session):
            violations.append(f"account {account_id}: negative customer balance {balance}")
        for account_id, balance in checks.positive_debts(session=session):
            violations.append(f"account {account_id}: debt account above zero ({balance})")
        for lot_id, amount, remaining, moved in checks.lots_out_of_step(session=session):
            violations.append(
                f"lot {lot_id}: amount {amount} taken {-moved} but {remaining} remaining"
            )
        for account_id, balance, held in checks.accounts_not_covered_by_lots(session=session):
            violations.append(f"account {account_id}: balance {balance} but lots hold {held}")
        totals = checks.account_totals(session=session)
    return VerificationReport(violations, totals)
