"""The PDF statement a retailer gets on WhatsApp (issue 17): served at a link Twilio fetches.

The link is the only key (made and read by handlers/statement_link.py): an HMAC-signed token (the
app's SECRET_KEY) naming the retailer, the BS month and the language, with a random nonce, valid for
STATEMENT_LINK_SECONDS. Nobody can make one for another shop, and a forwarded link stops working
within the hour. The PDF is made when fetched, from the khata as it is then.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort
from itsdangerous import BadSignature

from domain.errors import DomainError
from domain.statement_pdf import render_statements
from domain.statements import month_statement
from handlers.messages import t
from handlers.statement_link import read_token
from thok.web import services

bp = Blueprint("statement", __name__)


@bp.get("/statement/<token>.pdf")
def statement_pdf(token: str) -> Response:
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
