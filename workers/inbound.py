"""The inbound job: who wrote, what do we answer, into the outbox; then queue the sends.

Exactly-once processing rests on PostgreSQL, not on RQ: the row is locked (`FOR UPDATE SKIP
LOCKED`) and moved to PROCESSED in the same transaction that writes the replies, whose
idempotency keys (`reply:{inbound_id}:{n}`) make a re-run write nothing new.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from db.models import Retailer, Wholesaler
from domain import messaging, orders, outbox, selection
from domain.errors import InvalidInput
from domain.events import Event, OfferWindowOpened
from domain.parties import PartyKind
from domain.phones import mask_phone, normalize_phone
from handlers import Reply, Sender
from handlers.dispatch import respond
from handlers.messages import both, reply_language, t
from thok import metrics
from thok.config import Settings
from thok.logging import bind
from workers import effects
from workers.context import get_services
from workers.orders import observe_decision, window_figures
from workers.outbound import send_fresh
from workers.queueing import INBOUND_QUEUE, INBOUND_RETRY, enqueue_fresh, enqueue_once, inbound_job_id, job

log = logging.getLogger(__name__)


@job(INBOUND_QUEUE)
def process_inbound(inbound_id: int) -> str:
    services = get_services()
    with services.database.unit_of_work() as uow:
        message = messaging.claim_inbound(uow.session, inbound_id)
        if message is None:
            return "skipped: processed already or held by another worker"
        bind(message_sid=message.message_sid)
        try:
            phone = normalize_phone(message.from_number)
        except InvalidInput:
            phone = message.from_number
        party, chose_language = messaging.find_sender(uow.session, phone)
        sender = _sender(party, phone, chose_language)
        intent: str | None = None
        if message.num_media > 0 and not message.body.strip():
            # Photos of handwritten lists are common; the media URL is stored, the sender is told.
            replies = [Reply(to=phone, body=_media_reply(sender, message.body))]
            intent = "media"
        elif sender.kind == "unknown":
            replies = [Reply(to=phone, body=both("register"), kind="register")]
            intent = "unregistered"
        else:
            text = message.button_payload or message.body
            shown = message.body if message.button_payload else None  # the tapped title, in their language
            intent, replies = respond(uow.session, sender, text, services.settings, shown)
            if message.num_media > 0:
                replies.append(Reply(to=phone, body=_media_reply(sender, message.body)))
        created = outbox.queue_messages(  # the replies in one statement
            uow.session,
            [
                outbox.OutboxMessage(
                    to=reply.to,
                    body=reply.body,
                    kind=reply.kind,
                    idempotency_key=_reply_key(inbound_id, n, reply),
                    in_reply_to_id=inbound_id,
                    order_id=reply.order_id,
                    retailer_id=reply.retailer_id,
                    wholesaler_id=reply.wholesaler_id,
                    content_variables=reply.content_variables,
                    media_url=reply.media_url,
                    choices=reply.choices,
                )
                for n, reply in enumerate(replies)
            ],
        )
        messaging.finish_inbound(uow.session, message, party, intent)
        # An order confirmed with its window already closed (OFFER_WINDOW_SECONDS=0, or a window
        # that ran out while the job waited) is decided in this same transaction.
        decided = _decide_due_windows(uow.session, services.settings)
        # What the handlers set in motion (notices to other parties, offer-window timers) is
        # rendered into the outbox in this same transaction, and armed after commit.
        done = effects.collect(uow.session)
        done.outbound_ids[:0] = created
        # The order(s) this message touched, so `grep TK-...` finds the message that started it.
        bind(order_ref=_order_refs(uow.session, replies))
        uow.commit()
    for result, figures in decided:
        observe_decision(result, figures)
    outboxed = len(done.outbound_ids)
    if done.outbound_ids:
        _send_now(done)
    effects.apply(done)
    metrics.message_in("processed")
    metrics.message_out("outboxed", outboxed)
    log.info("inbound %s from %s: %d replies", inbound_id, mask_phone(phone), len(created))
    return f"processed: {len(created)} replies"


def _due(event: Event, now: datetime) -> bool:
    return isinstance(event, OfferWindowOpened) and event.closes_at <= now


def _decide_due_windows(session: Session, settings: Settings) -> list[tuple[selection.Decision, dict[str, float]]]:
    """Decide, inside the YES's own transaction, each order whose offer window this message opened
    already closed: the confirmation, the decision and every message about both commit together,
    with no timer job, second transaction or second rendering pass between the retailer's YES and
    the winner's notice. The decision is the timer's own (order row lock, status guard), in a
    savepoint: if it fails, the savepoint and what it recorded are undone, the order stays
    confirmed, and its window's timer is armed after commit as before (with its retries; the
    orders sweep is the backstop)."""
    now = datetime.now(UTC)
    decided: list[tuple[selection.Decision, dict[str, float]]] = []
    for event in [e for e in session.info.get("events", []) if _due(e, now)]:
        assert isinstance(event, OfferWindowOpened)
        notices, events = list(session.info.get("notices", [])), list(session.info.get("events", []))
        try:
            with session.begin_nested():
                result = selection.close_offer_window(session, event.order_id, settings, source="worker:inbound")
        except Exception:
            log.exception("deciding order %s with its confirmation failed; its timer will", event.order_id)
            session.info["notices"], session.info["events"] = notices, events
            continue
        session.info["events"].remove(event)  # decided: no timer to arm
        order = orders.decided_order(session, event.order_id)
        if order is not None:
            session.info.setdefault("order_refs", {})[order.id] = order.ref  # for the log line's refs
        decided.append((result, window_figures(order, result) if order is not None else {}))
    return decided


def _send_now(done: effects.Effects) -> None:
    """The replies and notices just committed leave at once, from this job: the drain job's own
    body (claim, advisory lock, record), so at-most-once sending and the crash-window lookup are
    unchanged, without a drain job and its queue wait between a message and its answer. If the
    drain fails, `apply` queues a drain job for the rows; if this worker dies, the outbox sweep
    finds them."""
    try:
        send_fresh(get_services(), expected=len(done.outbound_ids))
    except RedisError:
        return  # apply reports Redis away; the outbox sweep sends from PostgreSQL
    except Exception:
        log.exception("sending this job's messages failed; a drain job will")
        return
    done.outbound_ids = []  # sent, or left by the drain to their own retry jobs: nothing to queue


def _order_refs(session: Session, replies: list[Reply]) -> str | None:
    ids = {reply.order_id for reply in replies if reply.order_id}
    if not ids:
        return None
    known: dict[int, str] = session.info.get("order_refs", {})  # the refs of orders decided here
    missing = ids - known.keys()
    if missing:
        known = {**known, **orders.order_refs(session, missing)}
    return ",".join(sorted(known[order_id] for order_id in ids if order_id in known))


def _sender(party: Retailer | Wholesaler | None, phone: str, chose_language: bool) -> Sender:
    if party is None:
        return Sender(kind="unknown", phone=phone)
    kind = PartyKind.of(party)
    saved = party.language.value if party.language is not None else None
    return Sender(
        kind=kind,
        phone=phone,
        id=party.id,
        language=saved if saved and chose_language else None,
        name=party.name,
        default_language=saved,
    )


def _media_reply(sender: Sender, caption: str) -> str:
    return t("media_unsupported", reply_language(sender.language, caption, sender.default_language))


def _reply_key(inbound_id: int, n: int, reply: Reply) -> str:
    if reply.kind == "register":
        # One bilingual reply per unknown number per day (the key collides after that), so a
        # chatty stranger or another bot cannot make us loop.
        return f"register:{reply.to}:{datetime.now(UTC):%Y%m%d}"
    return f"reply:{inbound_id}:{n}"


def enqueue_inbound(redis: Redis, inbound_id: int) -> bool:
    return enqueue_once(redis, process_inbound, inbound_id, job_id=inbound_job_id(inbound_id), retry=INBOUND_RETRY)


def requeue_redelivery(redis: Redis, inbound_id: int) -> bool:
    """A provider's redelivery of a message stored but not processed: queue it unless its job is
    waiting or running. Redis away: False, and the row waits for the sweep as before."""
    try:
        return enqueue_inbound(redis, inbound_id)
    except RedisError:
        return False


def enqueue_new_inbound(redis: Redis, inbound_id: int) -> None:
    """The webhook's fast path: only the request whose INSERT created the row gets here, so
    PostgreSQL already guarantees one job per message and the unique check (a Lua round trip) is
    skipped; one pipelined round trip instead of several."""
    enqueue_fresh(
        redis,
        process_inbound,
        inbound_id,
        job_id=inbound_job_id(inbound_id),
        retry=INBOUND_RETRY,
        result_ttl=600,
        failure_ttl=7 * 86400,
    )
