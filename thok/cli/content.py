"""`thok content sync`: Twilio Content API definitions for WhatsApp's buttons and lists."""

from __future__ import annotations

import click

from thok.cli.app import _settings, main

# --- WhatsApp content (buttons and lists) --------------------------------------------------------


@main.group("content")
def content() -> None:
    """Twilio Content API definitions for WhatsApp's reply buttons and list messages."""


@content.command("sync")
def content_sync_cmd() -> None:
    """Create or update Thok's content definitions in the Twilio account and record their SIDs
    (in Redis, where the worker reads them). Safe to run again: nothing changes when all match."""
    import requests

    from channels.content import ContentApi, sync
    from thok import runtime

    settings = _settings()
    if not settings.twilio_configured:
        raise click.ClickException("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM are needed")
    assert settings.twilio_account_sid and settings.twilio_auth_token
    api = ContentApi(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base,  # tests: the fake Twilio; else content.twilio.com
        timeout=max(settings.twilio_timeout_seconds, 10),
    )
    try:
        report = sync(api, runtime.redis_for(settings))
    except requests.RequestException as exc:
        raise click.ClickException(f"Twilio Content API: {exc}") from None
    for name, sid in report.sids.items():
        state = "created" if name in report.created else "replaced" if name in report.replaced else "unchanged"
        click.echo(f"{name}\t{sid}\t{state}")
    click.echo(
        f"content: {len(report.created)} created, {len(report.replaced)} replaced, {len(report.kept)} unchanged",
        err=True,
    )
