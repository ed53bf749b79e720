"""The single entry the inbound job calls, inside the job's unit of work.

For now every text gets the help reply; the conversation issue replaces the body of
`handle_message` with the parser and the per-intent handlers (keep the signature).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers import Reply, Sender
from handlers.messages import language_of, t
from thok.config import Settings


def handle_message(session: Session, sender: Sender, text: str, settings: Settings) -> list[Reply]:
    lang = language_of(text, sender.language)
    name = f" {sender.name}" if sender.name else ""
    return [
        Reply(
            to=sender.phone,
            body=t("help", lang, name=name),
            retailer_id=sender.id if sender.kind == "retailer" else None,
            wholesaler_id=sender.id if sender.kind == "wholesaler" else None,
        )
    ]
