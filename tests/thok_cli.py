"""`thok ...` run in-process against a test's database, as production runs it: Twilio set (a command
that tells someone on WhatsApp refuses to run without a channel), no dev mode. Shared by the tests
that drive a use case from each entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from thok import runtime
from thok.cli import main

ThokCli = Callable[..., Result]


def production_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> Iterator[ThokCli]:
    """A fixture body: yields `run(*args, ok=True)`; `ok` asserts the command exited 0."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-test-token")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
    monkeypatch.delenv("THOK_DEV_MODE", raising=False)
    runtime.settings.cache_clear()

    def run(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    yield run
    runtime.settings.cache_clear()
