"""Before a domain call's commit: the notices it recorded, rendered (message catalog, recipient's
language) into the outbox in the same transaction, so a decision and the messages about it commit
together. After the commit, `workers.effects.apply` queues the sends and arms the timers.

The recipients' language facts are read for all of a transaction's notices at once (an order's
invitations go to several wholesalers), and the messages are written in one INSERT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Retailer, Wholesaler
from domain import order_facts, outbox
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


def _recipients(
    session: Session, notices: list[Notice], loaded: dict[tuple[PartyKind, int], Retailer | Wholesaler]
) -> list[Recipient]:
    parties = []
    for notice in notices:
        kind = PartyKind(notice.to_kind)
        party = loaded.get((kind, notice.to_id))
        parties.append((kind, party if party is not None else kind.get(session, notice.to_id)))  # get: NotFound
    numbers = [party.whatsapp_number for _, party in parties]
    chose = outbox.chosen_language_numbers(session, numbers)
    latest = outbox.latest_inbound_texts(session, numbers)
    found = []
    for kind, party in parties:
        saved = party.language.value if party.language is not None else None
        number = party.whatsapp_number
        chosen = saved if saved and number in chose else None
        found.append(
            Recipient(
                number,
                reply_language(chosen, latest.get(number), saved),
                party.id if kind is PartyKind.RETAILER else None,
                party.id if kind is PartyKind.WHOLESALER else None,
            )
        )
    return found


def _parties(session: Session, notices: list[Notice]) -> dict[tuple[PartyKind, int], Retailer | Wholesaler]:
    """The recipients in one query per kind, not one each (an order's invitations go to every
    wholesaler carrying its lines); removed parties included, as `PartyKind.get` does."""
    wanted: dict[PartyKind, set[int]] = {}
    for notice in notices:
        wanted.setdefault(PartyKind(notice.to_kind), set()).add(notice.to_id)
    found: dict[tuple[PartyKind, int], Retailer | Wholesaler] = {}
    for kind, ids in wanted.items():
        model = kind.model
        rows = session.scalars(select(model).where(model.id.in_(ids)).execution_options(include_deleted=True))
        for party in rows:
            if isinstance(party, Retailer | Wholesaler):
                found[(kind, party.id)] = party
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
    # Held for the whole rendering (the identity map's references are weak): an order's retailer
    # or winner among the recipients is not read again when its notices name them.
    parties = _parties(session, notices)
    recipients = _recipients(session, notices, parties)
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
