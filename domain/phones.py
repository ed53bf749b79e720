"""WhatsApp numbers as E.164, Nepal by default (9841234567 -> +9779841234567)."""

from __future__ import annotations

import phonenumbers

from domain.errors import InvalidInput

DEFAULT_REGION = "NP"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Accept `whatsapp:+977…`, spaces, dashes and local forms; return E.164 or raise InvalidInput."""
    value = (raw or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """For logs: +9779841234567 -> +97798****4567."""
    if len(e164) < 9:
        return "****"
    return f"{e164[:6]}****{e164[-4:]}"
