"""Choosing the winner: exactly one winning wholesaler per order (issue 14: the decision engine's
scoring and selection, apart from fulfilment).

`pick_winner` is one transaction: lock the order row, check it has no winner, score the offers,
reserve the best offer's stock with conditional updates (falling to the next when stock is gone),
set `orders.final_wholesaler_id`, mark that offer WON and the rest LOST. Closing a window that is
already decided (the timer after an early close, a re-run job, two workers) changes nothing and is
no conflict. Deciding a decided order otherwise (an admin override racing the worker), or a second
winner the database refuses, changes nothing and is written to `decision_conflict_logs`. Behind the
row lock, PostgreSQL's unique index on WON offers and the winner trigger refuse whatever might
still slip through. The winner then has the accept window: it passes (or lets the window run out)
and the next offer wins by the same rules; its ACCEPT is `domain.fulfilment.confirm_winner`.

What a wholesaler's ACCEPT / PASS means, by where the order stands, is the use case's
(usecases/offers.py). The engine's outcomes are told (notices) here, because its timers decide
without anyone acting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.models import (
    ActorType,
    DecisionConflictLog,
    OfferStatus,
    Order,
    OrderStatus,
    VendorOffer,
)
from domain.credit import Balance, release_hold
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events import Notice, WinnerSelected, notify, record_event
from domain.money import npr
from domain.orders import lock_awaiting_winner, lock_order, transition
from domain.stock import release_reservations, reserve_stock

# --- settings, outcomes ---------------------------------------------------------------------------


class DecisionRules(Protocol):
    """The settings choosing and holding a winner needs (thok.config.Settings has them; the domain
    does not import the process's configuration)."""

    @property
    def decision_weights(self) -> tuple[tuple[str, float], ...]: ...

    @property
    def accept_window_seconds(self) -> int: ...


log = logging.getLogger(__name__)


CANDIDATE = (OfferStatus.PENDING, OfferStatus.SUBMITTED, OfferStatus.LOST)


UNKNOWN_DELIVERY_DAYS = 1  # a catalog-price offer promises the usual next-day delivery


HISTORY_DAYS = 90


@dataclass(frozen=True)
class Decision:
    order_id: int
    outcome: str  # "won" | "expired" | "conflict" | "not_open"
    offer_id: int | None = None
    wholesaler_id: int | None = None
    answered: int | None = None  # offers with an answer (won/expired), for the offer process's figures


class DecisionConflict(DomainError):
    code = "decision_conflict"


# --- scoring --------------------------------------------------------------------------------------


# Everything scoring reads, in one statement: the retailer's account, each wholesaler's record over
# the last 90 days (this order aside), and the pair's own limit and balance where there is a row.
_SCORING_FACTS = text(
    """
    WITH record AS (
        SELECT final_wholesaler_id AS wholesaler_id,
               count(*) FILTER (WHERE status IN ('CONFIRMED', 'DISPATCHED', 'DELIVERED')) AS won,
               count(*) FILTER (WHERE status = 'DELIVERED') AS delivered,
               avg(extract(epoch FROM confirmed_at - decided_at)) FILTER (WHERE confirmed_at IS NOT NULL) AS accept_secs
        FROM orders
        WHERE final_wholesaler_id = ANY(:ids) AND created_at > now() - make_interval(days => :days) AND id <> :order_id
        GROUP BY final_wholesaler_id
    )
    SELECT w.id AS wholesaler_id, r.won, r.delivered, r.accept_secs,
           p.credit_limit, p.outstanding, p.held, p.advance,
           a.credit_limit AS account_limit, a.outstanding AS account_outstanding, a.held AS account_held,
           a.advance AS account_advance
    FROM unnest(CAST(:ids AS bigint[])) AS w(id)
    LEFT JOIN record r ON r.wholesaler_id = w.id
    LEFT JOIN retailer_wholesaler_credits p ON p.retailer_id = :retailer_id AND p.wholesaler_id = w.id
    LEFT JOIN credit_accounts a ON a.retailer_id = :retailer_id
    """
)


def score_offers(
    session: Session, order: Order, offers: list[VendorOffer], settings: DecisionRules
) -> list[tuple[VendorOffer, Decimal, dict[str, Any]]]:
    """Deterministic score per offer (higher wins), with its breakdown for the dashboard and the
    retailer. Ties go to the lower price, then the earlier answer, then the lower wholesaler id."""
    weights = dict(settings.decision_weights)
    total_weight = sum(weights.values())
    ids = [o.wholesaler_id for o in offers]
    facts = {
        r.wholesaler_id: r
        for r in session.connection().execute(
            _SCORING_FACTS, {"ids": ids, "days": HISTORY_DAYS, "order_id": order.id, "retailer_id": order.retailer_id}
        )
    }
    first = facts[ids[0]]
    if first.account_limit is None:
        raise NotFound(f"retailer {order.retailer_id} has no credit account")
    account = Balance(first.account_limit, first.account_outstanding, first.account_held, first.account_advance)
    held = order.estimated_total or Decimal(0)
    overall = account.available + held
    cheapest = min(o.total_price for o in offers)
    scored = []
    for offer in offers:
        h = facts[offer.wholesaler_id]
        won, delivered = (int(h.won), int(h.delivered)) if h.won is not None else (0, 0)
        accept_hours = float(h.accept_secs) / 3600 if h.accept_secs is not None else 1.0
        reliability = (delivered + 1) / (won + 2)  # a newcomer starts at 0.5, not at 0 or 1
        days = offer.delivery_days if offer.delivery_days is not None else UNKNOWN_DELIVERY_DAYS
        # This order's own hold counts as room; a per-wholesaler limit (no hold there yet) narrows it.
        per = Balance(h.credit_limit, h.outstanding, h.held, h.advance) if h.credit_limit is not None else None
        headroom = overall if per is None else min(overall, per.available)
        components = {
            "price": float(cheapest / offer.total_price) if offer.total_price > 0 else 1.0,
            "delivery": 1 / (1 + days),
            "record": 0.7 * reliability + 0.3 / (1 + accept_hours),
            "credit": max(0.0, min(1.0, float(headroom / offer.total_price))) if offer.total_price > 0 else 1.0,
        }
        score = sum(weights[k] * v for k, v in components.items()) / total_weight
        breakdown = {
            "components": {k: round(v, 4) for k, v in components.items()},
            "weights": weights,
            "total_price": str(offer.total_price),
            "delivery_days": days,
            "won_90d": won,
            "delivered_90d": delivered,
            "avg_accept_hours": round(accept_hours, 2),
            "credit_headroom": str(headroom),
            "eligible": headroom >= offer.total_price,
        }
        if not breakdown["eligible"]:
            breakdown["reason"] = f"credit: available NPR {npr(headroom)} < NPR {npr(offer.total_price)}"
        scored.append((offer, Decimal(str(round(score, 4))), breakdown))
    scored.sort(
        key=lambda t: (
            -t[1],
            t[0].total_price,
            t[0].responded_at or datetime.max.replace(tzinfo=UTC),
            t[0].wholesaler_id,
        )
    )
    return scored


# --- deciding -------------------------------------------------------------------------------------


def _conflict(session: Session, order: Order, source: str, reason: str, attempted: int | None = None) -> Decision:
    session.add(
        DecisionConflictLog(
            order_id=order.id,
            existing_wholesaler_id=order.final_wholesaler_id,
            attempted_wholesaler_id=attempted,
            source=source,
            reason=reason,
            details={"status": order.status.value},
        )
    )
    session.flush()
    log.warning("decision conflict on %s: %s (%s)", order.ref, reason, source)
    return Decision(order.id, "conflict", wholesaler_id=order.final_wholesaler_id)


# The order's offers, locked: all of them (the figures count the answered ones; a PASSED or DECLINED
# row cannot move anyway), of which the candidates are scored.
_OFFERS = (
    select(VendorOffer).where(VendorOffer.order_id == bindparam("order_id")).order_by(VendorOffer.id).with_for_update()
)

# Every scored offer's score, breakdown, status and stamp in one statement (the rows travel as one
# JSON document: no per-element array quoting). An offer that had already lost (an earlier winner
# passed) keeps when it lost, unless the order expires now.
_SETTLE = text(
    """
    UPDATE vendor_offers o SET score = v.score, score_breakdown = v.breakdown, status = v.status,
        decided_at = CASE WHEN :keep_lost AND o.status = 'LOST' AND v.status = 'LOST' THEN o.decided_at
                          ELSE :now END,
        updated_at = now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id bigint, score numeric, breakdown jsonb, status offer_status)
    WHERE o.id = v.id
    """
)

Scored = list[tuple[VendorOffer, Decimal, dict[str, Any]]]
_SETTLED = ["score", "score_breakdown", "status", "decided_at", "updated_at"]


def _settle(session: Session, scored: Scored, winner: VendorOffer | None, now: datetime) -> None:
    """Write the scores and the outcome (`winner` WON, the rest LOST) in one UPDATE. The session's
    objects forget what it wrote (read again when asked; never flushed over it), which stays right
    whether this transaction, or a savepoint around it, commits or rolls back."""
    session.connection().execute(
        _SETTLE,
        {
            "rows": json.dumps(
                [
                    {
                        "id": offer.id,
                        "score": str(score),
                        "breakdown": breakdown,
                        "status": (OfferStatus.WON if offer is winner else OfferStatus.LOST).value,
                    }
                    for offer, score, breakdown in scored
                ]
            ),
            "keep_lost": winner is not None,
            "now": now,
        },
    )
    for offer, _, _ in scored:
        session.expire(offer, _SETTLED)


def pick_winner(
    session: Session,
    order_id: int,
    settings: DecisionRules,
    *,
    source: str,
    forced_offer_id: int | None = None,
    actor_type: ActorType = ActorType.SYSTEM,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    order = lock_order(session, order_id)
    return _decide(
        session,
        order,
        settings,
        source=source,
        forced_offer_id=forced_offer_id,
        actor_type=actor_type,
        actor_id=actor_id,
        now=now or datetime.now(UTC),
    )


def _decide(
    session: Session,
    order: Order,
    settings: DecisionRules,
    *,
    source: str,
    now: datetime,
    forced_offer_id: int | None = None,
    actor_type: ActorType = ActorType.SYSTEM,
    actor_id: int | None = None,
) -> Decision:
    """`pick_winner` on an order this transaction has already locked."""
    if order.final_wholesaler_id is not None or order.status is not OrderStatus.PENDING_OFFERS:
        if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED) and (
            order.final_wholesaler_id is None
        ):
            return Decision(order.id, "not_open")
        attempted = None
        if forced_offer_id is not None:
            forced = session.get(VendorOffer, forced_offer_id)
            attempted = forced.wholesaler_id if forced else None
        return _conflict(session, order, source, f"order {order.ref} is already {order.status.value}", attempted)

    every = list(session.scalars(_OFFERS, {"order_id": order.id}))
    set_committed_value(order, "offers", every)  # the figures and notices read them without a lazy load
    answered = sum(o.responded_at is not None for o in every)
    offers = [o for o in every if o.status in CANDIDATE]
    if forced_offer_id is not None:
        offers = [o for o in offers if o.id == forced_offer_id]
        if not offers:
            raise InvalidInput(
                "that offer cannot win: it was passed, declined or belongs to another order", code="offer_cannot_win"
            )
    scored = score_offers(session, order, offers, settings) if offers else []
    deadline = now + timedelta(seconds=settings.accept_window_seconds)
    for offer, score, breakdown in scored:
        if not breakdown["eligible"] or not reserve_stock(session, order, offer.wholesaler_id, deadline):
            continue
        try:
            # The database's guards (one WON per order, the winner set once) are the last word: a
            # refusal undoes the winner's writes and only the conflict is recorded.
            with session.begin_nested():
                _settle(session, scored, offer, now)
                order.final_wholesaler_id = offer.wholesaler_id
                order.final_total = offer.total_price
                order.decided_at = now
                order.accept_deadline_at = deadline
                transition(
                    session,
                    order,
                    OrderStatus.WHOLESALER_SELECTED,
                    actor_type=actor_type,
                    actor_id=actor_id,
                    reason=f"offer {offer.id} won ({source})",
                    details={"offer_id": offer.id, "score": str(score)},
                )
        except IntegrityError as exc:  # the database's own guards: another winner got there first
            release_reservations(session, order.id)
            return _conflict(
                session, order, source, f"database refused a second winner: {exc.orig}", offer.wholesaler_id
            )
        _tell_outcome(session, order, offer, scored)
        record_event(session, WinnerSelected(order.id, offer.id, deadline))
        return Decision(order.id, "won", offer.id, offer.wholesaler_id, answered)

    # Nobody can serve it (no offers, all passed, stock gone, or credit short).
    if scored:
        _settle(session, scored, None, now)
    transition(session, order, OrderStatus.EXPIRED, actor_type=actor_type, actor_id=actor_id, reason="no usable offer")
    if order.estimated_total:
        release_hold(session, order.retailer_id, order.estimated_total, order.id)
    notify(
        session,
        Notice("order_expired", "retailer", order.retailer_id, f"expired:{order.id}", order.id, {"ref": order.ref}),
    )
    return Decision(order.id, "expired", answered=answered)


def _tell_outcome(session: Session, order: Order, winner: VendorOffer, scored: Scored) -> None:
    params = {"ref": order.ref, "total": npr(winner.total_price), "days": winner.delivery_days}
    notify(
        session,
        Notice("offer_won", "wholesaler", winner.wholesaler_id, f"won:{order.id}:{winner.id}", order.id, params),
    )
    notify(
        session,
        Notice("winner_selected", "retailer", order.retailer_id, f"selected:{order.id}:{winner.id}", order.id, params),
    )
    for offer, _, _ in scored:  # every other scored offer has just lost
        if offer is not winner and offer.responded_at is not None:
            notify(
                session,
                Notice(
                    "offer_lost",
                    "wholesaler",
                    offer.wholesaler_id,
                    f"lost:{order.id}:{offer.id}",
                    order.id,
                    {"ref": order.ref},
                ),
            )


_WAITING = (
    select(VendorOffer.id)
    .where(VendorOffer.order_id == bindparam("order_id"), VendorOffer.status == OfferStatus.PENDING)
    .limit(1)
)


def close_offer_window(
    session: Session, order_id: int, settings: DecisionRules, *, source: str, now: datetime | None = None
) -> Decision:
    """The offer window's timer (or its early close, or the sweep) fired: decide, unless it is too
    early or already done. Each order has up to three of these (early close, timer, sweep), so
    finding the order decided is the expected end of all but one, not a conflict."""
    now = now or datetime.now(UTC)
    order = lock_order(session, order_id)
    if order.status is not OrderStatus.PENDING_OFFERS:
        return Decision(order.id, "not_open", wholesaler_id=order.final_wholesaler_id)
    if order.offer_window_closes_at and now < order.offer_window_closes_at:
        waiting = session.scalar(_WAITING, {"order_id": order.id})
        if waiting is not None:
            return Decision(order.id, "not_open")  # a stale early-close event: the timer will come
    return _decide(session, order, settings, source=source, now=now)  # the order is locked already


# --- the accept window: the winner passes or runs out of time -------------------------------------


def decline_winner(
    session: Session,
    order: Order,
    settings: DecisionRules,
    *,
    reason: str,
    source: str,
    actor_type: ActorType,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """The winner passed or let the accept window run out: release its stock, and the next offer
    wins by the same rules (or the order expires)."""
    winner = session.scalars(
        select(VendorOffer)
        .where(VendorOffer.order_id == order.id, VendorOffer.status == OfferStatus.WON)
        .with_for_update()
    ).one()
    release_reservations(session, order.id)
    winner.status = OfferStatus.DECLINED
    order.final_wholesaler_id = None
    order.final_total = None
    order.accept_deadline_at = None
    transition(session, order, OrderStatus.PENDING_OFFERS, actor_type=actor_type, actor_id=actor_id, reason=reason)
    notify(
        session,
        Notice(
            "winner_declined",
            "wholesaler",
            winner.wholesaler_id,
            f"declined:{order.id}:{winner.id}",
            order.id,
            {"ref": order.ref},
        ),
    )
    return _decide(session, order, settings, source=source, now=now or datetime.now(UTC))  # locked by the caller


def winner_accept_timeout(
    session: Session, order_id: int, offer_id: int, settings: DecisionRules, now: datetime | None = None
) -> Decision:
    now = now or datetime.now(UTC)
    order = lock_order(session, order_id)
    if (
        order.status is not OrderStatus.WHOLESALER_SELECTED
        or order.accept_deadline_at is None
        or now < order.accept_deadline_at
    ):
        return Decision(order.id, "not_open")
    won = session.scalar(
        select(VendorOffer.id).where(VendorOffer.order_id == order.id, VendorOffer.status == OfferStatus.WON)
    )
    if won != offer_id:
        return Decision(order.id, "not_open")  # that winner already answered or was replaced
    return decline_winner(
        session,
        order,
        settings,
        reason="winner did not accept in time",
        source="worker:accept_timeout",
        actor_type=ActorType.SYSTEM,
        now=now,
    )


def sweep_accept_deadline(
    session: Session, order_id: int, settings: DecisionRules, now: datetime | None = None
) -> Decision:
    """The sweep's path to the accept timeout, when it does not know which offer won."""
    won = session.scalar(
        select(VendorOffer.id).where(VendorOffer.order_id == order_id, VendorOffer.status == OfferStatus.WON)
    )
    if won is None:
        return Decision(order_id, "not_open")
    return winner_accept_timeout(session, order_id, won, settings, now=now)


def decline_as_winner(session: Session, wholesaler_id: int, ref: str, settings: DecisionRules) -> Decision:
    """`PASS TK-7F3K` from the current winner."""
    order = lock_awaiting_winner(session, wholesaler_id, ref)
    return decline_winner(
        session,
        order,
        settings,
        reason="winner passed",
        source=f"wholesaler:{wholesaler_id}",
        actor_type=ActorType.WHOLESALER,
        actor_id=wholesaler_id,
    )
