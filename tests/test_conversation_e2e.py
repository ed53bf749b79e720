# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""A whole trade over WhatsApp, as in production: signed webhooks in, an RQ worker in between,
replies and notices out through the real twilio client to a fake Twilio on loopback."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from bot.app import create_app
from db.models import EntryType, LedgerEntry, Order, OrderStatus, OutboundMessage, OutboundStatus, Wholesaler
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context

PATH = "/webhooks/twilio/whatsapp"
SURESH = "+9779841000103"  # KC Mart, English
_sids = itertools.count(1)


def test_order_offer_decision_and_khata_over_whatsapp(
    thok_settings: Any, fresh_database: Any, fake_twilio: Any, redis: Any
) -> None:
    settings = thok_settings.with_overrides(
        offer_window_seconds=0,  # decide as soon as the order is placed
        # Invitations and notices reach wholesalers outside their 24-hour window: approved templates.
        twilio_templates=(("offer_request", "HXinvite"), ("order_update", "HXupdate"), ("payment_update", "HXpay")),
    )
    for sid in ("HXinvite", "HXupdate", "HXpay"):  # approved templates, as Twilio's Content API holds them
        fake_twilio.contents[sid] = {"sid": sid, "types": {"twilio/text": {"body": "{{1}}"}}}
    context.configure(settings)
    try:
        with fresh_database.unit_of_work() as uow:
            seed_demo(uow.session)
            uow.commit()
        client = create_app(settings, fresh_database, redis_for(settings), TESTING=True).test_client()

        def send(phone: str, body: str) -> list[str]:
            """Post as Twilio would, run the worker, return the bodies sent back to `phone`."""
            before = len(fake_twilio.posts())
            form = twilio_form(f"SM{next(_sids):032d}", sender=phone, body=body)
            assert client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).status_code == 200
            run_worker(redis)
            new = fake_twilio.posts()[before:]
            return [r.form.get("Body", "") for r in new if r.form.get("To") == f"whatsapp:{phone}"]

        summary = send(SURESH, "2 bora jeera masino, 5 kg masoor dal")
        assert len(summary) == 1 and "Your order:" in summary[0] and "Reply YES" in summary[0]

        placed = send(SURESH, "YES")
        with fresh_database.session() as s:
            order = s.scalars(select(Order)).one()
            ref, winner_id = order.ref, order.final_wholesaler_id
            assert order.status is OrderStatus.WHOLESALER_SELECTED  # the window (0 s) closed in the same run
            winner_phone = s.get(Wholesaler, winner_id).whatsapp_number
            invites = s.scalars(select(OutboundMessage).where(OutboundMessage.kind == "offer_request")).all()
            assert len(invites) >= 2
            assert all(m.content_sid == "HXinvite" and m.status is OutboundStatus.QUEUED for m in invites)
        assert any(f"Order {ref} is placed" in b for b in placed)

        confirmed = send(winner_phone, f"ACCEPT {ref}")
        assert any(f"DISPATCHED {ref}" in b for b in confirmed)  # "confirmed to you", in either language
        with fresh_database.session() as s:
            order = s.scalars(select(Order)).one()
            assert order.status is OrderStatus.CONFIRMED
            debit = s.scalars(select(LedgerEntry)).one()
            assert (debit.entry_type, debit.amount, debit.order_id) == (EntryType.DEBIT, order.final_total, order.id)
            total = order.final_total

        khata = send(SURESH, "hisab")
        assert len(khata) == 1
        assert f"Outstanding: NPR {total:,.0f}" in khata[0] and f"Order {ref}" in khata[0]
        # Every message that left went through the real twilio client exactly once.
        with fresh_database.session() as s:
            sids = [m.provider_sid for m in s.scalars(select(OutboundMessage)) if m.provider_sid]
            assert len(sids) == len(set(sids)) >= 6
    finally:
        context.configure(None)
