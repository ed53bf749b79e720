"""The demo's channel: the simulator page (bot.simulator) shows outbound rows, so 'sending' is only
marking the row sent. Idempotent by construction: the SID is derived from our own row id."""

from __future__ import annotations

from datetime import datetime

from channels.base import OutgoingMessage, ProviderMessage, SendResult
from db.models import OutboundStatus


class SimulatorChannel:
    name = "simulator"
    enforces_session_window = False
    template_setting = "TWILIO_TEMPLATE"  # never needed: no 24-hour window in the simulator
    max_body_chars = 4096

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(f"SIM{message.outbound_id:012d}", OutboundStatus.SENT)

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        return []

    def mark_read(self, message_sid: str) -> None:
        """The simulator's page shows its own ticks."""
