"""Twilio's request signature (X-Twilio-Signature), checked with the `twilio` library itself.

Twilio signs the URL it called. Behind a proxy or a tunnel the URL Flask sees differs (scheme,
host, port), so with PUBLIC_BASE_URL set we rebuild the public URL from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from flask import Request
from twilio.request_validator import RequestValidator

from thok.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def public_url(request: Request, settings: Settings) -> str:
    """The URL Twilio called, query string included (status callbacks carry our `?ob=` marker)."""
    if settings.public_base_url:
        query = request.query_string.decode("latin-1")
        return settings.public_base_url + request.path + (f"?{query}" if query else "")
    return request.url


def signature_required(settings: Settings) -> bool:
    """Only the demo's explicit dev mode without an auth token skips the check."""
    return not (settings.dev_mode and not settings.twilio_auth_token)


def is_signed(request: Request, params: Mapping[str, str], settings: Settings) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not settings.twilio_auth_token:
        return False
    return bool(_validator(settings.twilio_auth_token).validate(public_url(request, settings), dict(params), signature))


def sign(url: str, params: Mapping[str, str], token: str) -> str:
    """What Twilio would send for these params; the simulator signs its posts with it."""
    return str(_validator(token).compute_signature(url, dict(params)))
