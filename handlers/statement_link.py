"""The link to a retailer's PDF statement (issue 17), made by `hisab`'s statement reply and read by
the web's /statement/<token>.pdf (bot/statement.py): an HMAC-signed token (the app's SECRET_KEY)
naming the retailer, the BS month and the language, with a random nonce, valid for
STATEMENT_LINK_SECONDS. Here, below both, so the handler does not import the web edge."""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

from domain.calendar import BsMonth
from thok.config import Settings

STATEMENT_LINK_SECONDS = 3600  # long enough for Twilio's retries, short enough for a forwarded link
_SALT = "thok-statement-pdf"


def _signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def statement_url(settings: Settings, retailer_id: int, month: BsMonth, lang: str) -> str | None:
    """The link for one shop's month, or None where Thok has no public URL or no key to sign with."""
    if not settings.public_base_url or not settings.secret_key:
        return None
    token = _signer(settings.secret_key).dumps([retailer_id, month.key(), lang, secrets.token_hex(8)])
    return f"{settings.public_base_url}/statement/{token}.pdf"


def read_token(settings: Settings, token: str, max_age: int = STATEMENT_LINK_SECONDS) -> tuple[int, BsMonth, str]:
    """What a link names; BadSignature (also for an expired one) when it is not ours or too old."""
    if not settings.secret_key:
        raise BadSignature("no key")
    retailer_id, month, lang, _nonce = _signer(settings.secret_key).loads(token, max_age=max_age)
    return int(retailer_id), BsMonth.parse(str(month)), "ne" if lang == "ne" else "en"
