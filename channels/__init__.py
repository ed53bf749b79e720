"""Channel adapters (issue 14): one module per WhatsApp provider, below the workers and above the
handlers. Each has an outbound side (send text, buttons and lists, templates, documents; report
status) and an inbound side that turns its provider's payload into Thok's own shapes
(domain.messaging.IncomingMessage, channels.base.StatusUpdate):

- channels.twilio: Twilio's WhatsApp API (and channels.content, its Content API definitions);
- channels.meta: Meta's WhatsApp Cloud API (Graph API);
- channels.simulator: the demo's chat simulator.

The web edge (bot.webhook, bot.meta_webhook) serves the HTTP routes and calls the adapter's parsing;
the send job (workers.outbound) calls the channel chosen here by WHATSAPP_PROVIDER.
"""

from __future__ import annotations

from redis import Redis

from channels.base import Channel
from channels.meta import MetaChannel
from channels.simulator import SimulatorChannel
from channels.twilio import TwilioChannel
from thok.config import WORKER_NEEDS, Settings


def channel_for(settings: Settings, redis: Redis | None = None) -> Channel:
    if settings.whatsapp_provider == "meta":  # WHATSAPP_PROVIDER: Meta's Cloud API instead of Twilio
        if settings.meta_configured:
            return MetaChannel(settings)
    elif settings.twilio_configured:
        return TwilioChannel(settings, redis)
    # Only the demo "sends" to the simulator: in production it would mark every reply SENT unsent.
    settings.require_production(WORKER_NEEDS)
    return SimulatorChannel()
