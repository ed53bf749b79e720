"""The PDF statement a retailer gets on WhatsApp (issue 17): served at a link Twilio fetches.

The link is the only key: an HMAC-signed token (the app's SECRET_KEY) naming the retailer, the BS
month and the language, with a random nonce, valid for STATEMENT_LINK_SECONDS. Nobody can make
one for another shop, and a forwarded link stops working within the hour. The PDF is made when
fetched, from the khata as it is then.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort
from itsdangerous import BadSignature, URLSafeTimedSerializer

from domain.calendar import BsMonth
from domain.errors import DomainError
from thok.config import Settings

STATEMENT_LINK_SECONDS = 3600  # long enough for Twilio's retries, short enough for a forwarded link
_SALT = "thok-statement-pdf"
bp = Blueprint("statement", __name__)


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


@bp.get("/statement/<token>.pdf")
def statement_pdf(token: str) -> Response:
    from bot.app import services  # here: bot.app imports this module's blueprint
    from domain.statement_pdf import render_statements
    from domain.statements import month_statement
    from handlers.messages import t

    svc = services()
    if len(token) > 300:
        abort(404)
    try:
        retailer_id, month, lang = read_token(svc.settings, token)
    except (BadSignature, DomainError, ValueError, TypeError):
        abort(404)  # not ours, expired, or malformed: the same answer, nothing to learn from it
    with svc.database.read_session() as session:
        try:
            statement = month_statement(session, retailer_id, month)
        except DomainError:
            abort(404)
    pdf = render_statements([statement], lang, lambda key: t(key, lang))
    name = f"khata-{month.key()}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"},
    )
