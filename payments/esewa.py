"""eSewa ePay v2: the payer's browser posts a form Thok signed to eSewa (HMAC-SHA256 over
`total_amount,transaction_uuid,product_code`, base64); on success eSewa redirects to Thok with
`data`, base64 JSON signed the same way over its own `signed_field_names`. Thok checks that
signature and then asks the status-check API: only its `COMPLETE` books.

Status-check statuses: COMPLETE, PENDING, AMBIGUOUS (not yet), FULL_REFUND / PARTIAL_REFUND,
CANCELED, NOT_FOUND (the payer never paid, or the session expired).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from domain.payment_requests import CANCELLED, COMPLETED, EXPIRED, FAILED, PENDING, Verdict
from payments import GatewayError, GatewayTimeout

FORM_SIGNED = "total_amount,transaction_uuid,product_code"
OUTCOMES = {
    "COMPLETE": COMPLETED,
    "PENDING": PENDING,
    "AMBIGUOUS": PENDING,
    "FULL_REFUND": FAILED,
    "PARTIAL_REFUND": FAILED,
    "CANCELED": CANCELLED,
    "NOT_FOUND": EXPIRED,
}


class BadSignature(GatewayError):
    """The redirect's data is not signed with our key: someone else wrote it."""


def sign(secret: str, fields: dict[str, str], names: str) -> str:
    message = ",".join(f"{name}={fields[name]}" for name in names.split(","))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def amount_text(amount: Decimal) -> str:
    """As the form sends it and eSewa signs it back: '1500' or '1500.5'."""
    return format(amount.normalize(), "f")


class Esewa:
    def __init__(self, form_url: str, status_url: str, product_code: str, secret_key: str, timeout: float = 10.0):
        self.form_url = form_url
        self.status_url = status_url
        self.product_code = product_code
        self.secret_key = secret_key
        self.timeout = timeout

    def form(self, *, amount: Decimal, transaction_uuid: str, success_url: str, failure_url: str) -> dict[str, str]:
        """The fields of the form the payer's browser posts to `form_url`."""
        fields = {
            "amount": amount_text(amount),
            "tax_amount": "0",
            "total_amount": amount_text(amount),
            "transaction_uuid": transaction_uuid,
            "product_code": self.product_code,
            "product_service_charge": "0",
            "product_delivery_charge": "0",
            "success_url": success_url,
            "failure_url": failure_url,
            "signed_field_names": FORM_SIGNED,
        }
        fields["signature"] = sign(self.secret_key, fields, FORM_SIGNED)
        return fields

    def read_success(self, data: str) -> dict[str, Any]:
        """The success redirect's `data`, once its signature is ours; BadSignature otherwise."""
        try:
            fields = json.loads(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise BadSignature("the data is not base64 JSON") from None
        if not isinstance(fields, dict):
            raise BadSignature("the data is not an object")
        names, given = fields.get("signed_field_names"), fields.get("signature")
        if not isinstance(names, str) or not isinstance(given, str):
            raise BadSignature("the data is not signed")
        try:
            expected = sign(self.secret_key, {k: str(v) for k, v in fields.items()}, names)
        except KeyError as exc:
            raise BadSignature(f"a signed field is missing: {exc}") from None
        if "transaction_uuid" not in names.split(",") or "total_amount" not in names.split(","):
            raise BadSignature("the signature does not cover the transaction and amount")
        if not hmac.compare_digest(expected, given):
            raise BadSignature("the signature does not match")
        return fields

    def status(self, *, transaction_uuid: str, total_amount: Decimal) -> Verdict:
        try:
            resp = requests.get(
                self.status_url,
                params={
                    "product_code": self.product_code,
                    "total_amount": amount_text(total_amount),
                    "transaction_uuid": transaction_uuid,
                },
                timeout=self.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise GatewayTimeout(f"eSewa did not answer: {exc.__class__.__name__}") from None
        if resp.status_code >= 500:
            raise GatewayTimeout(f"eSewa answered {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise GatewayError(f"eSewa answered {resp.status_code} without JSON") from None
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise GatewayError(f"eSewa's status check has no status: {body}")
        if body.get("transaction_uuid") not in (None, transaction_uuid):
            raise GatewayError("eSewa's status check answered for another transaction")
        try:
            amount = Decimal(str(body["total_amount"])) if body.get("total_amount") is not None else None
        except InvalidOperation:
            amount = None
        ref = body.get("ref_id")
        return Verdict(
            outcome=OUTCOMES.get(status, PENDING),  # a word we do not know closes nothing
            gateway_status=status,
            amount=amount,
            transaction_ref=ref if isinstance(ref, str) and ref else None,
        )
