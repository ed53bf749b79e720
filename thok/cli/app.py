"""The `thok` group and what its commands share: settings, the database, who acts (`--admin` or the
operator at the shell) and `_use_case`, one use case in one unit of work with its messages."""

from __future__ import annotations

import os

import click

from domain.errors import DomainError
from thok.config import WORKER_NEEDS, ConfigError


def _settings():  # type: ignore[no-untyped-def]
    from thok import runtime

    try:
        return runtime.settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database():  # type: ignore[no-untyped-def]
    from thok import runtime

    return runtime.database_for(_settings())


def _owner_url() -> str:
    """Migrations, archive and grants run as the owner: DATABASE_OWNER_URL, else DATABASE_URL."""
    settings = _settings()
    if settings.runtime_role and not settings.database_owner_url:
        raise click.ClickException(
            "DATABASE_OWNER_URL is not set: with THOK_RUNTIME_ROLE set, DATABASE_URL is the runtime role's, "
            "and migrations, archive and grants run as the owner"
        )
    url = settings.owner_database_url
    assert url, "with_embedded_servers() fills database_url"
    return str(url)


def _actor(session, admin_email: str | None):  # type: ignore[no-untyped-def]
    """Who acts at the shell: the admin named by --admin, else the operator by their login name
    (audited as such: the use cases write every change down, whoever makes it)."""
    import getpass

    from usecases.actor import Actor

    if admin_email:
        return Actor.admin(_admin_id(session, admin_email), via="cli")
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        name = f"uid {os.getuid()}"
    return Actor.cli_operator(name)


def _use_case(change, tells: bool = False):  # type: ignore[no-untyped-def]
    """Run one use case in one unit of work, as the dashboard's `perform` does: `change(session)`
    does the change, its audit row and its notices; the notices become outbox rows before the
    commit and their sends are queued after it (Redis down: the sweep sends them). `tells`: it
    messages someone on WhatsApp, so a production run needs the channel's settings."""
    from thok import runtime
    from workers import effects

    settings = _settings()
    if tells:
        try:
            settings.require_production(WORKER_NEEDS)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        with runtime.database_for(settings).unit_of_work() as uow:
            result = change(uow.session)
            done = effects.collect(uow.session, settings)
            uow.commit()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    effects.apply(done, runtime.redis_for(settings), settings)
    return result


ADMIN_OPTION = click.option(
    "--admin",
    "admin_email",
    default=None,
    help="Email of the admin doing it (audited as them; else as you, the operator).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """Thok (थोक): wholesale ordering for Nepal's small shops over WhatsApp.

    Production needs DATABASE_URL and REDIS_URL. In dev mode (THOK_DEV_MODE=1) with them unset,
    every command uses the embedded PostgreSQL and Redis in THOK_DATA_DIR (default ./.thok/).
    """
    from thok.config import load_settings
    from thok.logging import configure_logging

    try:
        fmt = load_settings().log_format
    except ConfigError:
        fmt = "json"  # the command itself reports the bad setting
    configure_logging("INFO" if verbose else "WARNING", fmt)


def _admin_id(session, email: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from db.models import Admin

    admin_id = session.scalars(select(Admin.id).where(Admin.email == email.strip().lower())).first()
    if admin_id is None:
        raise click.ClickException(f"no admin with email {email} (create-admin first)")
    return int(admin_id)
