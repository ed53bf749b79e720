"""Twilio's request signature (X-Twilio-Signature), checked as Twilio's own validator does.

Twilio signs the URL it called. Behind a proxy or a tunnel the URL Flask sees differs (scheme,
host, port), so with PUBLIC_BASE_URL set we rebuild the public URL from it.

The check is `twilio.request_validator.RequestValidator.validate`'s, computed directly: its
per-request URL parsing and its two HMACs (each param's value looked up through two caught
AttributeErrors) were ~108 us a webhook. Here the URL's two canonical forms (without and with the
default port, built by Twilio's own helpers) are cached per URL, and the with-port HMAC is only
computed when the first one does not match. tests/test_signature.py compares the decisions with
Twilio's validator, hypothesis included.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlparse

from flask import Request
from twilio.request_validator import RequestValidator, add_port, remove_port

from thok.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


@lru_cache(maxsize=4)
def _key(token: str) -> bytes:
    return token.encode("utf-8")


@lru_cache(maxsize=256)  # bounded: the URL's query string (status callbacks' ?ob=) comes from the client
def _canonical_urls(url: str) -> tuple[str, str]:
    """The URL as Twilio's validator signs it, without and with the port (it accepts either)."""
    parsed = urlparse(url)
    return remove_port(parsed), add_port(parsed)


def _digest(key: bytes, url: str, params: Mapping[str, str]) -> bytes:
    # Twilio's string: the URL, then each name and its value, names sorted (one value per name:
    # a plain mapping, as the validator was always given).
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.digest(key, text.encode("utf-8"), "sha1"))  # OpenSSL one-shot: ~3 against ~5 us


def valid_signature(token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """RequestValidator(token).validate(url, dict(params), signature), in constant time per HMAC."""
    without_port, with_port = _canonical_urls(url)
    # bytes for compare_digest (it refuses non-ASCII str); a non-ASCII header never equals base64.
    given = signature.encode("utf-8", "surrogatepass")
    key = _key(token)
    if hmac.compare_digest(_digest(key, without_port, params), given):
        return True
    return with_port != without_port and hmac.compare_digest(_digest(key, with_port, params), given)


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
    return valid_signature(settings.twilio_auth_token, public_url(request, settings), params, signature)


def sign(url: str, params: Mapping[str, str], token: str) -> str:
    """What Twilio would send for these params; the simulator signs its posts with it."""
    return str(_validator(token).compute_signature(url, dict(params)))
