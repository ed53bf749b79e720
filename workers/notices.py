"""Before a domain call's commit: the notices it recorded, rendered (message catalog, recipient's
language) into the outbox in the same transaction, so a decision and the messages about it commit
together. After the commit, `workers.effects.apply` queues the sends and arms the timers.

The recipients and their language facts are read for all of a transaction's notices in one
statement (an order's invitations go to several wholesalers), an order's facts in one more (and its
wholesalers' prices in one), and the messages are written in one INSERT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from domain import order_facts, outbox
from domain.errors import NotFound
from domain.events import Event, Notice, take_events, take_notices
from domain.parties import PartyKind
from handlers import choices
from handlers.messages import reply_language
from handlers.notices import notice_body
from thok.config import Settings
from workers.context import get_services


@dataclass
class Effects:
    outbound_ids: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    number: str
    lang: str
    retailer_id: int | None
    wholesaler_id: int | None


def _recipients(session: Session, notices: list[Notice]) -> list[Recipient]:
    """Each notice's recipient: number and reply language, for all the notices in one statement
    (an order's invitations go to every wholesaler carrying its lines)."""
    ids: dict[str, set[int]] = {PartyKind.RETAILER: set(), PartyKind.WHOLESALER: set()}
    for notice in notices:
        ids[PartyKind(notice.to_kind)].add(notice.to_id)
    facts = outbox.recipient_facts(session, ids[PartyKind.RETAILER], ids[PartyKind.WHOLESALER])
    found = []
    for notice in notices:
        kind = PartyKind(notice.to_kind)
        party = facts.get((kind.value, notice.to_id))
        if party is None:
            raise NotFound(f"{kind.value} {notice.to_id} does not exist")  # as PartyKind.get
        chosen = party.saved_language if party.saved_language and party.chose_language else None
        found.append(
            Recipient(
                party.number,
                reply_language(chosen, party.latest_text, party.saved_language),
                notice.to_id if kind is PartyKind.RETAILER else None,
                notice.to_id if kind is PartyKind.WHOLESALER else None,
            )
        )
    return found


def _can_pay(settings: Settings | None) -> bool:
    """A "Pay now" button only where the pay reply exists: a payment gateway is configured. A web
    process passes its own settings (it has no job context to read them from)."""
    return bool((settings or get_services().settings).payment_gateways)


def render_notices(session: Session, notices: list[Notice], settings: Settings | None = None) -> list[int]:
    if not notices:
        return []
    can_pay = _can_pay(settings)
    messages = []
    # The facts are read with plain statements (no ORM objects, no autoflush each): the
    # transaction's changes go to the database first, once, as the first ORM read did before.
    session.flush()
    recipients = _recipients(session, notices)
    wholesalers = [to.wholesaler_id for to in recipients if to.wholesaler_id is not None]
    with order_facts.remembered(session, wholesalers):  # an order's facts read once for all its notices
        for notice, to in zip(notices, recipients, strict=True):
            messages.append(_message(session, notice, to, can_pay))
    return outbox.queue_messages(session, messages)


def _message(session: Session, notice: Notice, to: Recipient, can_pay: bool) -> outbox.OutboxMessage:
    params = {k: "" if v is None else str(v) for k, v in notice.params.items()}
    return outbox.OutboxMessage(
        to=to.number,
        body=notice_body(session, notice, to.retailer_id or to.wholesaler_id or notice.to_id, to.lang),
        idempotency_key=f"notice:{notice.dedupe_key}",
        kind=notice.kind,
        order_id=notice.order_id,
        retailer_id=to.retailer_id,
        wholesaler_id=to.wholesaler_id,
        content_variables={str(i + 1): v for i, v in enumerate(params.values())},
        choices=choices.for_notice(notice.key, to.lang, params.get("ref"), can_pay),
    )


def collect(session: Session, settings: Settings | None = None) -> Effects:
    """Call just before commit; a web process passes its settings (a job uses its context's)."""
    return Effects(render_notices(session, take_notices(session), settings), take_events(session))
