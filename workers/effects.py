"""After a domain call, before and after its commit.

Before commit: the notices the domain recorded are rendered (message catalog, recipient's language)
into the outbox, in the same transaction, so a decision and the messages about it commit together.
After commit: the sends are queued and the timers (offer window, accept deadline) are armed on RQ.
If Redis is down then, nothing is lost: the sweeps find due windows and PENDING messages in
PostgreSQL and catch up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from domain import messaging
from domain.events import Event, Notice, take_events, take_notices
from domain.parties import PartyKind
from handlers import choices
from handlers.messages import reply_language
from handlers.notices import notice_body
from thok.config import Settings
from workers.context import get_services
from workers.queueing import enqueue_send, schedule_event

log = logging.getLogger(__name__)


@dataclass
class Effects:
    outbound_ids: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _recipient(session: Session, notice: Notice) -> tuple[str, str, int | None, int | None]:
    kind = PartyKind(notice.to_kind)
    party = kind.get(session, notice.to_id)
    saved = party.language.value if party.language is not None else None
    number = party.whatsapp_number
    chosen = saved if saved and messaging.chose_language(session, number) else None
    lang = reply_language(chosen, messaging.latest_inbound_text(session, number), saved)
    retailer_id = party.id if kind is PartyKind.RETAILER else None
    wholesaler_id = party.id if kind is PartyKind.WHOLESALER else None
    return number, lang, retailer_id, wholesaler_id


def _can_pay(settings: Settings | None) -> bool:
    """A "Pay now" button only where the pay reply exists: a payment gateway is configured. A web
    process passes its own settings (it has no job context to read them from)."""
    return bool((settings or get_services().settings).payment_gateways)


def render_notices(session: Session, notices: list[Notice], settings: Settings | None = None) -> list[int]:
    created: list[int] = []
    can_pay = _can_pay(settings) if notices else False
    for notice in notices:
        phone, lang, retailer_id, wholesaler_id = _recipient(session, notice)
        params = {k: "" if v is None else str(v) for k, v in notice.params.items()}
        created += messaging.queue_message(
            session,
            to=phone,
            body=notice_body(session, notice, retailer_id or wholesaler_id or notice.to_id, lang),
            idempotency_key=f"notice:{notice.dedupe_key}",
            kind=notice.kind,
            order_id=notice.order_id,
            retailer_id=retailer_id,
            wholesaler_id=wholesaler_id,
            content_variables={str(i + 1): v for i, v in enumerate(params.values())},
            choices=choices.for_notice(notice.key, lang, params.get("ref"), can_pay),
        )
    return created


def collect(session: Session, settings: Settings | None = None) -> Effects:
    """Call just before commit; a web process passes its settings (a job uses its context's)."""
    return Effects(render_notices(session, take_notices(session), settings), take_events(session))


def apply(effects: Effects, redis: Redis | None = None, settings: Settings | None = None) -> None:
    """Call just after commit. A web process passes its own Redis and settings; jobs use theirs."""
    if redis is None or settings is None:
        services = get_services()
        redis, settings = services.redis, services.settings
    try:
        for outbound_id in effects.outbound_ids:
            enqueue_send(redis, settings, outbound_id)
        for event in effects.events:
            schedule_event(redis, event)
    except RedisError:
        log.warning("Redis unavailable after commit: the sweeps will send and decide from PostgreSQL")
