"""Khalti ePayment (KPG-2): the server starts a payment (`initiate`: amount in paisa, return_url,
purchase_order_id) and gets a `pidx` and a `payment_url` to send the payer to; afterwards only
`lookup` with the pidx says what happened. Khalti's return to `return_url` carries the pidx and a
status, but unsigned: Thok reads it only as a cue to look up.

Lookup statuses: Completed (the only one that books), Pending and Initiated (not yet), Expired,
User canceled, Refunded / Partially Refunded (not ours to book).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from domain.payment_requests import CANCELLED, COMPLETED, EXPIRED, FAILED, PENDING, Verdict
from payments import GatewayError, GatewayTimeout

PAISA = 100
OUTCOMES = {
    "Completed": COMPLETED,
    "Pending": PENDING,
    "Initiated": PENDING,
    "Expired": EXPIRED,
    "User canceled": CANCELLED,
    "Refunded": FAILED,
    "Partially Refunded": FAILED,
}


@dataclass(frozen=True)
class Started:
    pidx: str
    payment_url: str


class Khalti:
    def __init__(self, base_url: str, secret_key: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.secret_key = secret_key
        self.timeout = timeout

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = requests.post(
                f"{self.base_url}/epayment/{path}/",
                json=payload,
                headers={"Authorization": f"Key {self.secret_key}"},
                timeout=self.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise GatewayTimeout(f"Khalti did not answer: {exc.__class__.__name__}") from None
        if resp.status_code >= 500:
            raise GatewayTimeout(f"Khalti answered {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise GatewayError(f"Khalti answered {resp.status_code} without JSON") from None
        if not isinstance(body, dict):
            raise GatewayError("Khalti answered something other than an object")
        if resp.status_code >= 400 and path == "initiate":
            raise GatewayError(f"Khalti refused the payment ({resp.status_code}): {body}")
        return body

    def initiate(
        self, *, amount: Decimal, purchase_order_id: str, purchase_order_name: str, return_url: str, website_url: str
    ) -> Started:
        body = self._post(
            "initiate",
            {
                "return_url": return_url,
                "website_url": website_url,
                "amount": int(amount * PAISA),
                "purchase_order_id": purchase_order_id,
                "purchase_order_name": purchase_order_name,
            },
        )
        pidx, url = body.get("pidx"), body.get("payment_url")
        if not isinstance(pidx, str) or not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError(f"Khalti's answer has no pidx and payment_url: {body}")
        return Started(pidx, url)

    def lookup(self, pidx: str) -> Verdict:
        body = self._post("lookup", {"pidx": pidx})
        status = body.get("status")
        if not isinstance(status, str):
            # 404 {"detail": "Not found.", "error_key": "validation_error"}: an unknown pidx.
            raise GatewayError(f"Khalti's lookup of {pidx} has no status: {body}")
        if body.get("pidx") not in (None, pidx):
            raise GatewayError(f"Khalti's lookup answered for another pidx ({body.get('pidx')})")
        total = body.get("total_amount")
        amount = Decimal(int(total)) / PAISA if isinstance(total, int | str) and str(total).isdigit() else None
        txn = body.get("transaction_id")
        return Verdict(
            outcome=OUTCOMES.get(status, PENDING),  # a word we do not know closes nothing
            gateway_status=status,
            amount=amount,
            transaction_ref=txn if isinstance(txn, str) and txn else None,
        )
