"""Payment gateways a retailer pays their khata through: one module each (Khalti ePayment, eSewa
ePay v2), speaking the gateway's documented requests and answers and nothing of Thok's.

What a gateway says is turned into a `Verdict` (provider-neutral); `domain.payment_requests`
decides what it means for the khata. Nothing a browser brings back is trusted alone: Khalti's
return is unsigned and is only a hint to look the payment up; eSewa's is signed, and is still
confirmed with its status API.

Fonepay is not here: its merchant (dynamic QR) API is given to merchants under contract and is not
published, so there is nothing documented to build and test against.

The verdicts (`Verdict`, COMPLETED...) are the domain's (domain/payment_requests.py): the adapters
speak its words, not the other way round.
"""

from __future__ import annotations


class GatewayError(Exception):
    """The gateway refused or answered something we cannot read; nothing about the payment changed."""


class GatewayTimeout(GatewayError):
    """No answer in time (or no connection): ask again later; the payment may still complete."""
