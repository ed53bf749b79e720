"""WhatsApp numbers as E.164, Nepal by default (9841234567 -> +9779841234567)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from domain.errors import InvalidInput

DEFAULT_REGION = "NP"
# What a WhatsApp provider sends as the sender: the channel, then an E.164 number (at most 15 digits).
_WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9][0-9]{5,14}")


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Accept `whatsapp:+977…`, spaces, dashes and local forms; return E.164 or raise InvalidInput."""
    value = (raw or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number", code="phone_invalid", number=raw) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number", code="phone_invalid", number=raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def whatsapp_sender(address: str) -> str:
    """`whatsapp:+9779841234567` -> `+9779841234567`, strictly: no other channel (`sms:`), no
    local form, spaces, letters or line breaks, and a number that exists in its country's plan.
    Raises InvalidInput. Cached: the same shops write all day, and this is the webhook's hot path."""
    if not _WHATSAPP_ADDRESS.fullmatch(address):
        raise InvalidInput("not a WhatsApp address (whatsapp:+ and the number's digits)")
    try:
        number = phonenumbers.parse(address.removeprefix("whatsapp:"), None)
    except phonenumbers.NumberParseException:
        raise InvalidInput("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("not a valid number in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """For logs: +9779841234567 -> +97798****4567."""
    if len(e164) < 9:
        return "****"
    return f"{e164[:6]}****{e164[-4:]}"
