"""`thok import-products`, `thok import-prices` (usecases.catalog) and `thok parse`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from domain.errors import DomainError
from thok.cli.app import ADMIN_OPTION, _actor, _database, main

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
