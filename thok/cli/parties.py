"""Dashboard accounts (`create-admin`, `deactivate-admin`, `set-admin-password`) and registering
retailers and wholesalers (usecases.parties)."""

from __future__ import annotations

import sys

import click

from domain.errors import DomainError
from thok.cli.app import ADMIN_OPTION, _actor, _database, _use_case, main


@main.command("create-admin")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="admin", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin_cmd(email: str, role: str, password_stdin: bool) -> None:
    """Create a dashboard admin (password from a prompt, or stdin with --password-stdin)."""
    from db.models import AdminRole
    from domain.parties import create_admin

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _database().unit_of_work() as uow:
            admin = create_admin(uow.session, email, password, AdminRole(role.upper()))
            uow.commit()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"admin {admin.email} created ({role})")


def _admin_change(email: str, change) -> str:  # type: ignore[no-untyped-def]
    """One change to a dashboard account, audited with the account itself as the actor (the CLI
    has no signed-in admin) and no client address."""
    from domain.admins import admin_by_email
    from domain.audit import AdminActor

    try:
        with _database().unit_of_work() as uow:
            admin = admin_by_email(uow.session, email)
            ended = change(uow.session, AdminActor(admin.id, None), admin.id)
            uow.commit()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    return f"{admin.email}: {ended} session{'s' if ended != 1 else ''} signed out"


@main.command("deactivate-admin")
@click.argument("email")
def deactivate_admin_cmd(email: str) -> None:
    """Stop a dashboard admin signing in; their open sessions end at once."""
    from functools import partial

    from domain.admins import deactivate_admin

    click.echo(_admin_change(email, partial(deactivate_admin, may_be_self=True)) + ", deactivated")


@main.command("set-admin-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_admin_password_cmd(email: str, password_stdin: bool) -> None:
    """Give a dashboard admin a new password; their open sessions end at once."""
    from domain.admins import change_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    click.echo(_admin_change(email, lambda s, actor, admin_id: change_password(s, actor, admin_id, password)))


# --- parties -------------------------------------------------------------------------------------


def _party_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(
        [
            click.option("--district", default=None),
            click.option("--address", default=None),
            click.option("--language", type=click.Choice(["en", "ne"]), default=None, help="Default: their script."),
            ADMIN_OPTION,
        ]
    ):
        fn = option(fn)
    return fn


@main.command("register-retailer")
@click.argument("phone")
@click.argument("name")
@click.option("--shop", default=None, help="The shop's name.")
@click.option("--credit-limit", default="0", show_default=True, help="NPR of credit to start with.")
@_party_options
def register_retailer_cmd(  # type: ignore[no-untyped-def]
    phone: str, name: str, shop: str | None, credit_limit: str, district, address, language, admin_email
) -> None:
    """Register a retailer and their credit account (audited; one live party per number)."""
    from usecases.parties import NewParty, register_retailer

    new = NewParty(name, phone, shop, district, address, language)
    retailer = _use_case(lambda s: register_retailer(s, _actor(s, admin_email), new, credit_limit))
    click.echo(f"retailer #{retailer.id} {retailer.whatsapp_number} registered")


@main.command("register-wholesaler")
@click.argument("phone")
@click.argument("name")
@click.option("--business", default=None, help="The business's name.")
@_party_options
def register_wholesaler_cmd(  # type: ignore[no-untyped-def]
    phone: str, name: str, business: str | None, district, address, language, admin_email
) -> None:
    """Register a wholesaler (audited; one live party per number)."""
    from usecases.parties import NewParty, register_wholesaler

    new = NewParty(name, phone, business, district, address, language)
    wholesaler = _use_case(lambda s: register_wholesaler(s, _actor(s, admin_email), new))
    click.echo(f"wholesaler #{wholesaler.id} {wholesaler.whatsapp_number} registered")
