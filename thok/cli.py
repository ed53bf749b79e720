"""The `thok` command. Each command is a thin entrypoint: settings, one unit of work, a service call."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

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


# --- database ------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Migrations and integrity checks."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from db.migrate import current_revision, upgrade

    url = _owner_url()
    upgrade(url, revision)
    click.echo(f"database at revision {current_revision(url)}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes everything)."""
    from db.migrate import current_revision, downgrade

    url = _owner_url()
    downgrade(url, revision)
    click.echo(f"database at revision {current_revision(url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Print the database's migration revision and the code's head."""
    from db.migrate import current_revision, head_revision

    click.echo(f"current: {current_revision(_owner_url()) or 'base'}  head: {head_revision()}")


@db.command("verify")
@click.option("-q", "--quiet", is_flag=True, help="Print only what is missing.")
def db_verify(quiet: bool) -> None:
    """Print the constraints, indexes and triggers of the critical tables; exit 1 if any is missing."""
    from sqlalchemy import text

    from db.verify import verify

    settings = _settings()
    with _database().engine.connect() as conn:
        # With an owner URL of its own, DATABASE_URL's role is the runtime role unless named.
        user = conn.execute(text("SELECT current_user")).scalar()
        role = settings.runtime_role
        if role is None and settings.database_owner_url and settings.database_owner_url != settings.database_url:
            role = user
        report = verify(conn, runtime_role=role)
    if role is not None and user != role:
        report.missing.append(f"DATABASE_URL logs in as {user}, not the runtime role {role}: web and worker would too")
    if not quiet:
        for line in report.lines:
            click.echo(line)
    for problem in report.missing:
        click.echo(f"MISSING {problem}", err=True)
    if not report.ok:
        raise SystemExit(1)
    click.echo("verify: all expected constraints, indexes and triggers are present")


@db.command("grant-runtime")
@click.argument("role", required=False)
@click.option("--if-set", is_flag=True, help="Do nothing (exit 0) when neither ROLE nor THOK_RUNTIME_ROLE is given.")
def db_grant_runtime(role: str | None, if_set: bool) -> None:
    """Give the existing login ROLE (default: THOK_RUNTIME_ROLE) exactly what web and worker need.

    Runs as the owner (DATABASE_OWNER_URL); idempotent. Rerun after every upgrade: the Procfile's
    release step does when THOK_RUNTIME_ROLE is set."""
    from sqlalchemy import create_engine, pool

    from db.roles import RoleError, grant_runtime, runtime_role_problems
    from thok.config import to_psycopg_url

    role = role or _settings().runtime_role
    if role is None:
        if if_set:
            click.echo("grant-runtime: THOK_RUNTIME_ROLE is not set; web and worker run as the owner")
            return
        raise click.ClickException("give ROLE or set THOK_RUNTIME_ROLE")
    engine = create_engine(to_psycopg_url(_owner_url()), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            grants = grant_runtime(conn, role)
            problems = runtime_role_problems(conn, role)
            if problems:  # rights granted elsewhere (another role it belongs to, PUBLIC): say so, keep nothing
                raise click.ClickException("; ".join(problems))
    except RoleError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(
        f"granted {grants.role} (owner {grants.owner}): read-write on {grants.read_write} tables, "
        f"read-only on {grants.read_only}, EXECUTE on {grants.functions} functions"
    )


@db.group("partitions")
def db_partitions() -> None:
    """The ledger's monthly partitions."""


@db_partitions.command("ensure")
@click.option("--months-ahead", default=3, show_default=True, type=int, help="Months beyond the current one.")
def db_partitions_ensure(months_ahead: int) -> None:
    """Create the coming months' ledger partitions (the worker does this periodically too)."""
    from db.partitions import ensure_partitions

    with _database().engine.begin() as conn:
        created = ensure_partitions(conn, months_ahead)
    click.echo(f"created: {', '.join(created)}" if created else "partitions: all present")


@main.command("archive")
@click.option(
    "--before",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Archive whole months before this date (default: older than two years).",
)
def archive_cmd(before) -> None:  # type: ignore[no-untyped-def]
    """Move closed months of the ledger and closed orders into the archive schema (rerunnable)."""
    from db.session import Database
    from domain.archive import archive

    try:
        # As the owner: archiving detaches and attaches partitions and creates archive tables.
        owner = Database(_owner_url())
        try:
            result = archive(owner.engine, before.date() if before else None, progress=click.echo)
        finally:
            owner.dispose()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"archive: {len(result.ledger_months)} ledger month(s), {result.ledger_rows} entries; "
        f"{result.orders} orders from {len(result.order_months)} month(s)"
    )


# --- catalog -------------------------------------------------------------------------------------


def _run_import(path: Path, label: str, fn) -> None:  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    total = max(data.count(b"\n"), 1)
    database = _database()
    try:
        with (
            database.unit_of_work() as uow,
            click.progressbar(length=total, label=label, file=sys.stderr) as bar,
        ):
            result = fn(uow.session, data, path.name, bar.update)
            uow.commit()
    except DomainError as exc:
        click.echo(f"Error: {exc}", err=True)
        for err in getattr(exc, "errors", [])[1:]:
            click.echo(f"  {path.name}, {err}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{path.name}: {result.rows} rows ({result.inserted} new, {result.updated} updated)")


@main.command("import-products")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_products_cmd(file: Path) -> None:
    """Upsert products from a CSV: sku,name,name_ne,aliases,unit,category (aliases split by |)."""
    from domain.catalog import import_products

    _run_import(file, "products", lambda s, d, n, p: import_products(s, d, n, p))


@main.command("import-prices")
@click.argument("wholesaler_phone")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@ADMIN_OPTION
def import_prices_cmd(wholesaler_phone: str, file: Path, admin_email: str | None) -> None:
    """Set one wholesaler's prices and stock from a CSV: sku,price,stock (all or nothing; audited)."""
    from domain.credit import wholesaler_by_phone
    from usecases.catalog import import_prices

    def run(session, data, name, progress):  # type: ignore[no-untyped-def]
        wholesaler = wholesaler_by_phone(session, wholesaler_phone)
        return import_prices(session, _actor(session, admin_email), wholesaler.id, data, name, progress)

    _run_import(file, "prices", run)


@main.command("parse")
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the intent of TEXT as one JSON object.")
@click.option("--jsonl", is_flag=True, help="Read one JSON string per stdin line; print one JSON object per line.")
@click.option("--role", type=click.Choice(["retailer", "wholesaler"]), default="retailer", show_default=True)
def parse_cmd(text: str | None, as_json: bool, jsonl: bool, role: str) -> None:
    """Show how Thok understands a message, using the catalog in the database."""
    import json

    from domain.catalog import catalog_entries
    from parsing.parser import Catalog, parse

    with _database().session() as session:
        catalog = Catalog.from_tuples(catalog_entries(session))
    if jsonl:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"stdin line {number} is not a JSON string: {exc.msg}") from None
            if not isinstance(message, str):
                raise click.ClickException(f"stdin line {number} is not a JSON string")
            click.echo(json.dumps(parse(message, catalog, role).to_dict(), ensure_ascii=False))
        return
    if text is None:
        raise click.UsageError("give TEXT, or --jsonl to read messages from stdin")
    intent = parse(text, catalog, role).to_dict()
    click.echo(json.dumps(intent, ensure_ascii=False, indent=None if as_json else 2))


@main.command("seed")
@click.option("--demo", is_flag=True, required=True, help="Seed the demo market (idempotent).")
def seed_cmd(demo: bool) -> None:
    """Seed the demo catalog, wholesalers, retailers and admin."""
    from thok.seed import seed_demo

    try:
        with _database().unit_of_work() as uow:
            result = seed_demo(uow.session, history=True)
            uow.commit()
    except DomainError as exc:  # e.g. a demo number another party already holds: say which
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"seeded: {result.products} products, {result.wholesalers} wholesalers, {result.price_rows} price rows, "
        f"{result.retailers} retailers{', 1 admin' if result.admin_created else ''}, "
        f"{result.orders} orders and {result.payments} payments of history"
    )


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


# --- credit and the khata ------------------------------------------------------------------------


@main.command("check")
def check_cmd() -> None:
    """Recompute balances, reservations and winners from the raw rows; exit 1 if any disagree."""
    from domain.integrity import run_checks

    with _database().session() as session:
        problems = run_checks(session)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"check: {len(problems)} problem(s) found", err=True)
        raise SystemExit(1)
    click.echo("check: balances, reservations and winners all agree")


@main.command("statement")
@click.argument("phone")
@click.option("--month", default=None, help="A Bikram Sambat month, e.g. 2083-08 (Mangsir 2083).")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (Gregorian, Nepal).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["en", "ne"]), default=None, help="PDF language (default: the shop's).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Default: stdout.")
def statement_cmd(  # type: ignore[no-untyped-def]
    phone: str, month: str | None, start, end, fmt: str, lang: str | None, out: Path | None
) -> None:
    """A retailer's khata: a BS month (--month 2083-08) as CSV or a PDF, or a Gregorian date
    range (--from/--to) as CSV."""
    from domain.calendar import BsMonth
    from domain.credit import retailer_by_phone
    from domain.statement_csv import write_month_csv, write_statement_csv
    from domain.statements import month_statement, statement_rows

    if (month is None and (start is None or end is None)) or (month is not None and (start or end)):
        raise click.UsageError("give either --month YYYY-MM (Bikram Sambat) or both --from and --to")
    if fmt == "pdf" and month is None:
        raise click.UsageError("a PDF statement is by month: --month YYYY-MM (Bikram Sambat)")
    if fmt == "pdf" and out is None and sys.stdout.isatty():
        raise click.UsageError("a PDF is not for a terminal: --out FILE.pdf")
    try:
        with _database().read_session() as session:  # the replica, when DATABASE_REPLICA_URL is set
            retailer = retailer_by_phone(session, phone)
            if month is not None:
                statement = month_statement(session, retailer.id, BsMonth.parse(month))
                lang = lang or (retailer.language.value if retailer.language else "en")
            else:
                rows = statement_rows(session, retailer.id, start.date(), end.date())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "pdf":
        from domain.statement_pdf import render_statements
        from handlers.messages import t

        pdf = render_statements([statement], lang or "en", lambda key: t(key, lang))
        if out is None:
            sys.stdout.buffer.write(pdf)
            return
        out.write_bytes(pdf)
        click.echo(f"{out}: {statement.month.label('en')}, {len(statement.entries)} entries", err=True)
        return
    with contextlib.ExitStack() as stack:
        fh = sys.stdout if out is None else stack.enter_context(out.open("w", encoding="utf-8", newline=""))
        if month is not None:
            write_month_csv(statement, fh)
            count = len(statement.entries)
        else:
            write_statement_csv(rows, fh)
            count = len(rows) - 1
    if out is not None:
        click.echo(f"{out}: {count} entries", err=True)


@main.command("record-payment")
@click.argument("phone")
@click.argument("amount")
@click.option("--method", required=True, help="cash, esewa, khalti, fonepay or bank")
@click.option("--reference", default=None, help="The eSewa/Khalti/bank transaction reference.")
@click.option("--admin", "admin_email", required=True, help="Email of the admin recording it.")
@click.option(
    "--wholesaler",
    "wholesaler_phone",
    default=None,
    help="The wholesaler paid (at most what the shop owes them); omit for a payment to Thok overall.",
)
def record_payment_cmd(
    phone: str, amount: str, method: str, reference: str | None, admin_email: str, wholesaler_phone: str | None
) -> None:
    """Record a retailer's payment: one payment row and its one CREDIT entry, audited; the retailer
    (and the wholesaler paid) are told on WhatsApp."""
    from domain.credit import retailer_by_phone, wholesaler_by_phone
    from usecases import khata

    def change(session):  # type: ignore[no-untyped-def]
        retailer = retailer_by_phone(session, phone)
        wholesaler_id = wholesaler_by_phone(session, wholesaler_phone).id if wholesaler_phone else None
        return khata.record_payment(
            session,
            _actor(session, admin_email),
            retailer_id=retailer.id,
            amount=amount,
            method=method,
            reference=reference,
            wholesaler_id=wholesaler_id,
        )

    done = _use_case(change, tells=True)
    click.echo(
        f"payment #{done.payment.id} recorded for {done.retailer.whatsapp_number}: entry #{done.entry.id}, "
        f"outstanding now NPR {done.balance.outstanding:,.2f}, available NPR {done.balance.available:,.2f}"
    )


def _admin_id(session, email: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from db.models import Admin

    admin_id = session.scalars(select(Admin.id).where(Admin.email == email.strip().lower())).first()
    if admin_id is None:
        raise click.ClickException(f"no admin with email {email} (create-admin first)")
    return int(admin_id)


@main.command("reverse-payment")
@click.argument("payment_id", type=int)
@click.option("--reason", required=True, help="Why (written in the khata and the audit log).")
@click.option("--admin", "admin_email", required=True, help="Email of the admin reversing it.")
def reverse_payment_cmd(payment_id: int, reason: str, admin_email: str) -> None:
    """Reverse a wrongly booked payment: a compensating DEBIT (the ledger keeps both), audited, and
    the retailer and the wholesaler paid are told on WhatsApp. Refused if already reversed, or if
    the restored debt would exceed the credit limit (raise it first)."""
    from usecases import khata

    done = _use_case(
        lambda session: khata.reverse_payment(session, _actor(session, admin_email), payment_id, reason), tells=True
    )
    click.echo(
        f"payment #{payment_id} reversed: entry #{done.entry.id} DEBIT NPR {done.entry.amount:,.2f}, "
        f"outstanding now NPR {done.balance.outstanding:,.2f}"
    )


@main.command("set-credit-limit")
@click.argument("phone")
@click.argument("amount")
@click.option("--wholesaler", "wholesaler_phone", default=None, help="Set the shop's limit with this wholesaler only.")
@ADMIN_OPTION
def set_credit_limit_cmd(phone: str, amount: str, wholesaler_phone: str | None, admin_email: str | None) -> None:
    """Set a retailer's credit limit in NPR, overall or with one wholesaler (not below what they
    owe; audited)."""
    from domain.credit import retailer_by_phone, wholesaler_by_phone
    from usecases import khata

    def change(session):  # type: ignore[no-untyped-def]
        retailer = retailer_by_phone(session, phone)
        wholesaler_id = wholesaler_by_phone(session, wholesaler_phone).id if wholesaler_phone else None
        actor = _actor(session, admin_email)
        return retailer, khata.set_credit_limit(session, actor, retailer.id, amount, wholesaler_id=wholesaler_id)

    retailer, result = _use_case(change)
    with_whom = f" with {wholesaler_phone}" if wholesaler_phone else ""
    click.echo(
        f"{retailer.whatsapp_number}: limit{with_whom} NPR {result.credit_limit:,.2f}, outstanding NPR "
        f"{result.outstanding:,.2f}, held NPR {result.held:,.2f}, available NPR {result.available:,.2f}"
    )


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


# --- operations ----------------------------------------------------------------------------------


@main.command("stats")
@click.option("--hours", default=24, show_default=True, type=int, help="Window for message and decision figures.")
def stats_cmd(hours: int) -> None:
    """The key operating figures (what /metrics exposes), for a terminal without Prometheus."""
    from redis.exceptions import RedisError

    from domain import stats
    from thok import runtime

    settings = _settings()
    # Read-only: the replica when DATABASE_REPLICA_URL is set and it answers (index scans there
    # count the replica's own reads), else the primary.
    with _database().read_session() as session:
        conn = session.connection()
        backlog = stats.backlog(conn)
        open_orders = stats.open_orders(conn, settings.offer_window_seconds)
        orders = stats.orders_by_status(conn)
        inbound, outbound = stats.recent_messages(conn, hours)
        decided = stats.decisions(conn, hours)
        deleted = stats.soft_deleted(conn)
        indexes = stats.index_usage(conn)

    def row(label: str, figures: Mapping[str, object]) -> None:
        click.echo(f"{label:<18}" + "  ".join(f"{k.lower()} {v}" for k, v in figures.items()))

    row("orders", {k: v for k, v in orders.items() if v} or {"none": 0})
    row(
        "waiting offers",
        {
            "open": open_orders.count,
            "oldest": f"{open_orders.oldest_age_seconds:.0f}s",
            "overdue (2x window)": open_orders.overdue,
        },
    )
    row(
        f"decisions {hours}h",
        {
            "decided": decided["decided"],
            "conflicts": decided["conflicts"],
            "median to winner": f"{decided['median_seconds_to_winner']:.0f}s",
        },
    )
    row(f"inbound {hours}h", {k: v for k, v in inbound.items() if v} or {"none": 0})
    row(f"outbound {hours}h", {k: v for k, v in outbound.items() if v} or {"none": 0})
    row(
        "inbound backlog",
        {"unprocessed": backlog.messages, "over 1 min": backlog.stale, "oldest": f"{backlog.oldest_age_seconds:.0f}s"},
    )
    try:
        from workers.runner import QUEUES

        redis = runtime.redis_for(settings)
        row("queues", {q: redis.llen(f"rq:queue:{q}") for q in QUEUES})
        row("failed jobs", {q: redis.zcard(f"rq:failed:{q}") for q in QUEUES})
    except RedisError as exc:
        row("queues", {"redis unreachable": type(exc).__name__})
    row("soft-deleted", deleted)
    unused = [ix for ix in indexes if not ix.unique and ix.scans == 0]
    bloated = [ix for ix in indexes if (ix.bloat_ratio or 0) > 0.5 and ix.size_bytes > 10 * 2**20]
    row("indexes", {"total": len(indexes), "never scanned (non-unique)": len(unused), "bloated >50%": len(bloated)})
    for ix in bloated:
        click.echo(f"  bloated: {ix.index} on {ix.table}, {ix.size_bytes / 2**20:.0f} MiB, ~{ix.bloat_ratio:.0%} dead")


# --- processes -----------------------------------------------------------------------------------


@main.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker_cmd(burst: bool) -> None:
    """Run an RQ worker with the scheduler (offer windows, retries, sweeps)."""
    import shutil

    from thok.config import metrics_dir_for
    from thok.logging import configure_logging

    settings = _settings()
    try:
        settings.require_production(WORKER_NEEDS)  # no Twilio: replies would go to the simulator
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    # Before thok.metrics is first imported (workers.runner imports it): this worker and its
    # work-horses share one multiprocess folder of their own, served on WORKER_METRICS_PORT.
    metrics_dir = metrics_dir_for(settings, f"worker-{os.getpid()}")
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    from thok import metrics
    from workers.runner import run_worker

    metrics.track_work_horses()
    try:
        run_worker(settings, burst=burst)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo_cmd(host: str, port: int) -> None:
    """Migrate, seed if empty, and run web + worker on the embedded default (dev mode)."""
    from db.migrate import upgrade
    from thok import runtime
    from thok.seed import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, is_empty, seed_demo

    os.environ["THOK_DEV_MODE"] = "1"
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if not (os.environ.get("KHALTI_SECRET_KEY") or os.environ.get("ESEWA_SECRET_KEY")):
        # No gateway of your own: the pretend Khalti in this same app (bot/demo_gateway.py), so
        # "pay" in the simulator opens a page with Pay / Cancel and the khata drops once.
        from bot.demo_gateway import DEMO_KHALTI_KEY, PREFIX

        os.environ.update(THOK_DEMO_GATEWAY="1", KHALTI_SECRET_KEY=DEMO_KHALTI_KEY, KHALTI_BASE_URL=f"{base}{PREFIX}")
        os.environ.setdefault("PUBLIC_BASE_URL", base)
    runtime.settings.cache_clear()
    settings = _settings()
    click.echo(f"PostgreSQL: {settings.database_url}\nRedis:      {settings.redis_url}")
    upgrade(settings.database_url)
    database = runtime.database_for(settings)
    with database.unit_of_work() as uow:
        if is_empty(uow.session):
            result = seed_demo(uow.session, settings, history=True)
            uow.commit()
            click.echo(
                f"seeded the demo market: {result.products} products, {result.wholesalers} wholesalers, "
                f"{result.orders} orders and {result.payments} payments over the last four weeks"
            )
    database.dispose()

    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:thok.gunicorn_conf",  # Prometheus multiprocess folder and hooks
            "-w",
            "2",
            "-b",
            f"{host}:{port}",
            "bot.app:create_app()",
        ],
        env=env,
    )
    worker = subprocess.Popen([sys.executable, "-m", "thok", "worker"], env=env)
    pay_line = (
        f"  Pay         a pretend Khalti at {settings.khalti_base_url} (send 'pay' in the simulator)\n"
        if settings.demo_gateway
        else ""
    )
    click.echo(
        f"\nThok demo is running (dev mode: Twilio signatures are not checked).\n"
        f"  Home        {base}/\n  Simulator   {base}/simulator\n  Dashboard   {base}/dashboard/"
        f"  (login {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD})\n  Health      {base}/healthz  {base}/readyz\n"
        f"  Metrics     {base}/metrics  (worker: http://{settings.worker_metrics_addr}:{settings.worker_metrics_port}"
        "/metrics)\n"
        f"{pay_line}Press Ctrl-C to stop."
    )
    children = [web, worker]

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            child.wait(timeout=20)
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        raise SystemExit(1)
