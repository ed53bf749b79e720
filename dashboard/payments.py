"""Correcting the khata from the dashboard: an admin reverses a wrongly booked payment.

The write itself is `actions.reverse_payment` inside `perform` (one transaction with its audit row
and the messages to both parties); viewers are refused by the blueprint's guard, forms carry CSRF.
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from dashboard import actions
from dashboard.web import ActionFailed, bp, flash_failure, form_text, perform
from domain.money import npr


@bp.post("/retailers/<int:party_id>/payments/<int:payment_id>/reverse")
def reverse_payment(party_id: int, payment_id: int) -> ResponseReturnValue:
    try:
        entry = perform(actions.reverse_payment, party_id, payment_id, form_text("reason"))
        flash(
            f"Payment #{payment_id} reversed: NPR {npr(entry.amount)} is owed again; both parties are told.", "ok"
        )
    except ActionFailed as exc:
        flash_failure(exc)
    return redirect(url_for("dashboard.khata", party_id=party_id), code=303)
