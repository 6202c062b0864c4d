"""Which service handles each protocol message type, in the inbox and on an answer."""

from __future__ import annotations

from node.services import (
    donations,
    links,
    partner_notices,
    partner_rewards,
    settlement,
    transfers,
)
from node.services.inbox import Handler
from node.services.outbox import AnswerHandler

#: Requests this node acts on; any other request type is answered not_supported.
INBOX_HANDLERS: dict[str, Handler] = {
    "link.request": links.handle_link_request,
    "link.revoke": links.handle_link_revoke,
    "transfer.request": transfers.handle_transfer_request,
    "transfer.batch": transfers.handle_transfer_batch,
    "redemption.request": partner_rewards.handle_redemption_request,
    "donation.request": donations.handle_donation_request,
    "settlement.statement": settlement.handle_settlement_statement,
    "erasure.notice": partner_notices.handle_erasure_notice,
    "restriction.notice": partner_notices.handle_restriction_notice,
    "rectification.notice": partner_notices.handle_rectification_notice,
}

#: What to do when the answer to one of our requests arrives, by request type.
ANSWER_HANDLERS: dict[str, AnswerHandler] = {
    "link.request": links.on_link_answer,
    "link.revoke": links.on_link_answer,
    "transfer.request": transfers.on_transfer_answer,
    "transfer.batch": transfers.on_transfer_batch_answer,
    "redemption.request": partner_rewards.on_redemption_answer,
    "donation.request": donations.on_donation_answer,
    "settlement.statement": settlement.on_settlement_answer,
    "erasure.notice": partner_notices.on_notice_answer,
    "restriction.notice": partner_notices.on_notice_answer,
    "rectification.notice": partner_notices.on_notice_answer,
}
