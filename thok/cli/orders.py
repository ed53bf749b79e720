"""Orders at the shell: `cancel-order` and `mark-order` (usecases.orders), the same use cases the
dashboard's order page and a wholesaler's DISPATCHED / DELIVERED call: the same people told, the
same audit row (as the admin named by --admin, else as the operator)."""

from __future__ import annotations

import click

from thok.cli.app import ADMIN_OPTION, _actor, _use_case, main


@main.command("cancel-order")
@click.argument("ref")
@click.option("--reason", required=True, help="Why: the retailer and the wholesaler are told it on WhatsApp.")
@ADMIN_OPTION
def cancel_order_cmd(ref: str, reason: str, admin_email: str | None) -> None:
    """Cancel an order as Thok: its stock and credit are given back (a posted DEBIT is answered by
    a CREDIT), the retailer and the chosen wholesaler are told why, and it is audited."""
    from domain.orders import find_order
    from usecases import orders

    def change(session):  # type: ignore[no-untyped-def]
        order = orders.cancel_order(session, _actor(session, admin_email), find_order(session, ref).id, reason)
        return order.ref, order.status.value

    done_ref, status = _use_case(change, tells=True)
    click.echo(f"{done_ref}: {status}; the retailer and the wholesaler are told")


@main.command("mark-order")
@click.argument("ref")
@click.argument("status", type=click.Choice(["DISPATCHED", "DELIVERED"], case_sensitive=False))
@ADMIN_OPTION
def mark_order_cmd(ref: str, status: str, admin_email: str | None) -> None:
    """Mark an order DISPATCHED or DELIVERED for its wholesaler (the retailer is told)."""
    from domain.orders import find_order
    from usecases import orders

    def change(session):  # type: ignore[no-untyped-def]
        order = orders.advance_order(session, _actor(session, admin_email), find_order(session, ref).id, status.upper())
        return order.ref, order.status.value

    done_ref, now = _use_case(change, tells=True)
    click.echo(f"{done_ref}: {now}; the retailer is told")
