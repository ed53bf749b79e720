"""`thok db ...` (migrations, verify, grants, partitions) and `thok archive`: run as the owner."""

from __future__ import annotations

import click

from domain.errors import DomainError
from thok.cli.app import _database, _owner_url, _settings, main

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
