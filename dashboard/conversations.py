"""The dashboard's Conversations page: parties by their last message on the left, one party's
thread on the right, as WhatsApp Web shows a chat (with each reply's ticks and failures)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from dashboard.web import bp, read
from domain import conversations
from domain.errors import InvalidInput
from domain.phones import normalize_phone


@bp.get("/conversations")
def conversations_page() -> ResponseReturnValue:
    raw = request.args.get("phone", "")
    number: str | None = None
    if raw:
        try:
            number = normalize_phone(raw)
        except InvalidInput as exc:
            abort(400, description=f"phone: {exc}")

    def load(session: Any) -> dict[str, Any]:
        listed = conversations.threads(session)
        party = None
        lines: list[conversations.Line] = []
        if number is not None:
            lines = conversations.thread(session, number)
            party = conversations.parties_by_number(session, [number]).get(
                number, conversations.Party("unknown", None, number)
            )
        return {"threads": listed, "number": number, "party": party, "lines": lines}

    return render_template("dashboard/conversations.html", **read(load))
