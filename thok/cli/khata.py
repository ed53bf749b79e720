"""Credit and the khata: `check`, `statement`, and the use cases `record-payment`,
`reverse-payment`, `set-credit-limit` (usecases.khata)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from domain.errors import DomainError
from thok.cli.app import ADMIN_OPTION, _actor, _database, _use_case, main

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
