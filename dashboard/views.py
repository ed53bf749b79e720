"""The dashboard's pages. Each route parses the request, calls one read query (`dashboard.read_model`) or
one admin change (`dashboard.actions` inside `perform`), and maps a refusal to a flash and a 4xx."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from redis.exceptions import RedisError

from dashboard import actions, jobs, read_model, validation  # noqa: F401 - validation registers the edge check
from dashboard.charts import bar_chart
from dashboard.web import (
    ActionFailed,
    actor,
    after_commit,
    bp,
    flash_failure,
    form_id,
    form_text,
    perform,
    perform_and_flash,
    read,
)
from db.models import OrderStatus
from domain.calendar import NEPAL, BsMonth, admin_when
from domain.catalog import CsvImportError
from domain.credit import account_balance
from domain.errors import DomainError, InvalidInput, NotFound
from domain.money import npr
from domain.orders import TRANSITIONS
from domain.parties import PartyKind, get_retailer, get_wholesaler
from domain.payment_requests import recent_requests
from domain.reminders import recent_reminders
from domain.statement_csv import write_month_csv, write_statement_csv
from domain.statement_pdf import render_statements
from domain.statements import StatementRow, month_statement, statement_rows
from handlers.messages import LANGUAGES, t
from parsing.payment_methods import DEFAULT_METHODS
from thok.web import services
from workers import effects
from workers.outbound import enqueue_send

STATEMENT_MONTHS = 13  # the khata page's month picker

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _back(default: str) -> ResponseReturnValue:
    return redirect(default, code=303)


def _args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if isinstance(v, str)}


# --- overview ------------------------------------------------------------------------------------


OVERVIEW_TTL_SECONDS = 60


def _cached_overview() -> read_model.Overview:
    """The overview scans a month of orders (a quarter of a second at a million orders), so it is
    computed at most once a minute and shared by every admin; Redis down just means no cache."""
    redis = services().redis
    key = f"thok:dashboard:overview:{read_model.nepal_today()}"
    try:
        cached = redis.get(key)
    except RedisError:
        cached = None
    if cached:
        raw = json.loads(cached)
        raw["gmv_today"] = Decimal(raw["gmv_today"])
        raw["days"] = [(date.fromisoformat(d), n, Decimal(g)) for d, n, g in raw["days"]]
        return read_model.Overview(**raw)
    data = read(read_model.overview)
    encoded = dataclasses.asdict(data) | {
        "gmv_today": str(data.gmv_today),
        "days": [(d.isoformat(), n, str(g)) for d, n, g in data.days],
    }
    with contextlib.suppress(RedisError):
        redis.set(key, json.dumps(encoded), ex=OVERVIEW_TTL_SECONDS)
    return data


@bp.get("/")
def overview() -> ResponseReturnValue:
    data = _cached_overview()
    charts = {
        "orders": bar_chart([(d, n) for d, n, _ in data.days], "Orders per day, last 30 days"),
        "gmv": bar_chart([(d, g) for d, _, g in data.days], "GMV per day (NPR), last 30 days"),
    }
    return render_template("dashboard/overview.html", o=data, charts=charts)


# --- orders --------------------------------------------------------------------------------------


@bp.get("/orders")
def orders() -> ResponseReturnValue:
    args = _args()
    try:
        flt = read_model.OrderFilter.parse(args)
    except InvalidInput as exc:
        flash(str(exc), "error")
        flt = read_model.OrderFilter()
    page = read(read_model.list_orders, flt, args.get("after"))
    wholesalers = read(read_model.wholesaler_choices)
    retailer = read(get_retailer, flt.retailer_id) if flt.retailer_id else None
    first_args = {k: v for k, v in args.items() if k != "after"}
    return render_template(
        "dashboard/orders.html",
        page=page,
        flt=flt,
        args=args,
        statuses=list(OrderStatus),
        wholesalers=wholesalers,
        retailer=retailer,
        first_args=first_args,
        next_args=first_args | {"after": page.next_cursor},
    )


@bp.get("/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    detail = read(read_model.order_detail, order_id)
    allowed = TRANSITIONS[detail.order.status]
    return render_template(
        "dashboard/order.html",
        d=detail,
        can_cancel=OrderStatus.CANCELLED in allowed,
        can_dispatch=OrderStatus.DISPATCHED in allowed,
        can_deliver=OrderStatus.DELIVERED in allowed,
        can_override=detail.order.status is OrderStatus.PENDING_OFFERS,
    )


@bp.post("/orders/<int:order_id>/cancel")
def cancel_order(order_id: int) -> ResponseReturnValue:
    perform_and_flash(
        "Order cancelled; the retailer and wholesaler are being told.",
        actions.cancel_order,
        order_id,
        form_text("reason"),
    )
    return _back(url_for("dashboard.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/override")
def override_winner(order_id: int) -> ResponseReturnValue:
    try:
        offer_id = form_id("offer_id")
        if offer_id is None:
            raise ActionFailed("choose the offer that should win")
        outcome = perform(actions.override_winner, order_id, offer_id, services().settings)
        if outcome == "won":
            flash(f"Offer {offer_id} won; the wholesaler has the usual time to accept.", "ok")
        elif outcome == "conflict":
            flash("The order was already decided: nothing changed, and the attempt is in the conflict log.", "error")
        else:
            flash("The order is closed; there is nothing to decide.", "error")
    except ActionFailed as exc:
        flash_failure(exc)
    return _back(url_for("dashboard.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/advance")
def advance_order(order_id: int) -> ResponseReturnValue:
    perform_and_flash(f"Order marked {form_text('to').lower()}.", actions.advance_order, order_id, form_text("to"))
    return _back(url_for("dashboard.order", order_id=order_id))


# --- retailers and wholesalers -------------------------------------------------------------------


def _kind(kinds: str) -> PartyKind:
    kind = PartyKind.from_plural(kinds)
    if kind is None:
        abort(404)
    return kind


def _party_form() -> actions.PartyForm:
    return actions.PartyForm(
        name=form_text("name"),
        phone=form_text("phone"),
        display_name=form_text("display_name"),
        district=form_text("district"),
        address=form_text("address"),
        language=form_text("language"),
        # An unticked checkbox sends nothing: only the edit form (which says it has the box) can
        # switch a party off; a new party starts active.
        is_active=request.form.get("is_active") == "on" if "is_active_present" in request.form else True,
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


@bp.get("/<any(retailers, wholesalers):kinds>")
def parties(kinds: str) -> ResponseReturnValue:
    kind = _kind(kinds)
    q = request.args.get("q", "")[:100]
    deleted = request.args.get("deleted") == "1"
    page = _page_arg()
    lister = read_model.list_retailers if kind is PartyKind.RETAILER else read_model.list_wholesalers
    rows, more = read(lister, q, deleted, page)
    return render_template(
        "dashboard/parties.html", kind=kind, kinds=kinds, rows=rows, more=more, q=q, deleted=deleted, page=page
    )


@bp.route("/<any(retailers, wholesalers):kinds>/new", methods=["GET", "POST"])
def new_party(kinds: str) -> ResponseReturnValue:
    kind = _kind(kinds)
    if request.method == "GET":
        return render_template("dashboard/party_form.html", kind=kind, kinds=kinds, party=None, form={})
    form = _party_form()
    try:
        if kind is PartyKind.RETAILER:
            created: Any = perform(actions.create_retailer, form, form_text("credit_limit", "0") or "0")
        else:
            created = perform(actions.create_wholesaler, form)
    except ActionFailed as exc:
        flash_failure(exc)
        return render_template(
            "dashboard/party_form.html", kind=kind, kinds=kinds, party=None, form=request.form
        ), exc.status
    flash(f"{kind.label} {created.name} created.", "ok")
    return _back(url_for(f"dashboard.{kind}", party_id=created.id))


@bp.post("/<any(retailers, wholesalers):kinds>/<int:party_id>/edit")
def edit_party(kinds: str, party_id: int) -> ResponseReturnValue:
    kind = _kind(kinds)
    perform_and_flash("Saved.", actions.update_party, kind, party_id, _party_form())
    return _back(url_for(f"dashboard.{kind}", party_id=party_id))


@bp.post("/<any(retailers, wholesalers):kinds>/<int:party_id>/delete")
def delete_party(kinds: str, party_id: int) -> ResponseReturnValue:
    kind = _kind(kinds)
    perform_and_flash(
        f"{kind.label} removed (restore them from the removed list).", actions.remove_party, kind, party_id
    )
    return _back(url_for(f"dashboard.{kind}", party_id=party_id))


@bp.post("/<any(retailers, wholesalers):kinds>/<int:party_id>/restore")
def restore_party(kinds: str, party_id: int) -> ResponseReturnValue:
    kind = _kind(kinds)
    perform_and_flash(f"{kind.label} restored.", actions.restore_party, kind, party_id)
    return _back(url_for(f"dashboard.{kind}", party_id=party_id))


@bp.get("/retailers/<int:party_id>")
def retailer(party_id: int) -> ResponseReturnValue:
    def load(session: Any) -> dict[str, Any]:
        return {
            "party": get_retailer(session, party_id),
            "balance": account_balance(session, party_id),
            "limits": read_model.wholesaler_credit_limits(session, party_id),
            "wholesalers": read_model.wholesaler_choices(session),
            "recent": read_model.khata_page(session, party_id, limit=5).rows,
        }

    return render_template("dashboard/retailer.html", kind=PartyKind.RETAILER, kinds="retailers", **read(load))


@bp.post("/retailers/<int:party_id>/credit-limit")
def set_credit_limit(party_id: int) -> ResponseReturnValue:
    try:
        wholesaler_id = form_id("wholesaler_id")
        if wholesaler_id is None:
            perform(actions.set_credit_limit, party_id, form_text("credit_limit"))
        else:
            perform(actions.set_wholesaler_credit_limit, party_id, wholesaler_id, form_text("credit_limit"))
        flash("Credit limit saved.", "ok")
    except ActionFailed as exc:
        flash_failure(exc)
    return _back(url_for("dashboard.retailer", party_id=party_id))


@bp.get("/wholesalers/<int:party_id>")
def wholesaler(party_id: int) -> ResponseReturnValue:
    return _wholesaler_page(party_id)


def _wholesaler_page(party_id: int, import_errors: list[Any] | None = None, status: int = 200) -> ResponseReturnValue:
    q = request.args.get("q", "")[:100]

    def load(session: Any) -> dict[str, Any]:
        return {
            "party": get_wholesaler(session, party_id),
            "catalog": read_model.wholesaler_catalog(session, party_id, q),
        }

    return render_template(
        "dashboard/wholesaler.html",
        kind=PartyKind.WHOLESALER,
        kinds="wholesalers",
        q=q,
        import_errors=import_errors or [],
        **read(load),
    ), status


@bp.post("/wholesalers/<int:party_id>/prices")
def import_prices(party_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file (sku,price,stock) to upload.", "error")
        return _wholesaler_page(party_id, status=400)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        flash(f"The file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB; split it.", "error")
        return _wholesaler_page(party_id, status=400)
    try:
        result = _import(party_id, data, upload.filename)
    except CsvImportError as exc:
        flash(f"{upload.filename}: {len(exc.errors)} bad line(s); nothing was imported.", "error")
        return _wholesaler_page(party_id, import_errors=exc.errors, status=400)
    except NotFound as exc:
        abort(404, str(exc))
    except DomainError as exc:  # an empty file, a removed wholesaler
        flash(str(exc), "error")
        return _wholesaler_page(party_id, status=400)
    flash(f"Imported {result.rows} line(s): {result.inserted} new, {result.updated} updated.", "ok")
    return _back(url_for("dashboard.wholesaler", party_id=party_id))


def _import(party_id: int, data: bytes, filename: str) -> Any:
    # CsvImportError is a DomainError; let it through whole so the page can list every bad line.
    # Otherwise as `perform`: whatever the use case asks to tell goes out with its commit.
    with services().database.unit_of_work() as uow:
        result = actions.import_prices(uow.session, actor(), party_id, data, filename)
        done = effects.collect(uow.session, services().settings)
        uow.commit()
    after_commit(done)
    return result


@bp.post("/wholesalers/<int:party_id>/catalog/<int:item_id>")
def update_price(party_id: int, item_id: int) -> ResponseReturnValue:
    try:
        perform(
            actions.update_price,
            party_id,
            item_id,
            price=form_text("price"),
            stock=form_text("stock"),
            available=request.form.get("is_available") == "on",
        )
        flash("Price saved.", "ok")
    except ActionFailed as exc:
        flash_failure(exc)
    return _back(url_for("dashboard.wholesaler", party_id=party_id) + f"#item-{item_id}")


# --- the khata -----------------------------------------------------------------------------------


@bp.get("/retailers/<int:party_id>/khata")
def khata(party_id: int) -> ResponseReturnValue:
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() else None

    def load(session: Any) -> dict[str, Any]:
        return {
            "party": get_retailer(session, party_id),
            "balance": account_balance(session, party_id),
            "page": read_model.khata_page(session, party_id, before),
            "wholesalers": read_model.wholesaler_choices(session),
            "reminders": recent_reminders(session, party_id),
            "pay_requests": recent_requests(session, party_id),
        }

    today = read_model.nepal_today()
    this_month = BsMonth.containing(today)
    months = [this_month]
    while len(months) < STATEMENT_MONTHS:  # the picker: this BS month and the year before it
        months.append(months[-1].previous())
    return render_template(
        "dashboard/khata.html",
        kind=PartyKind.RETAILER,
        kinds="retailers",
        methods=[m for m in DEFAULT_METHODS if m.active],
        start=today - timedelta(days=30),
        end=today,
        months=months,
        form=request.args,
        **read(load),
    )


@bp.post("/retailers/<int:party_id>/payments")
def record_payment(party_id: int) -> ResponseReturnValue:
    try:
        entry = perform(
            actions.record_payment,
            party_id,
            amount=form_text("amount"),
            method=form_text("method"),
            reference=form_text("reference"),
            wholesaler_id=form_id("wholesaler_id"),
            notes=form_text("notes"),
        )
        flash(
            f"Payment recorded: NPR {npr(entry.amount)}; outstanding now NPR {npr(entry.balance_after)}. "
            "The shop is told on WhatsApp.",
            "ok",
        )
    except ActionFailed as exc:
        flash_failure(exc)
    return _back(url_for("dashboard.khata", party_id=party_id))


@bp.get("/retailers/<int:party_id>/statement.pdf")
def statement_pdf(party_id: int) -> ResponseReturnValue:
    """The month picker's PDF: one BS month (?month=2083-08), in English or Nepali (?lang=ne)."""
    lang = request.args.get("lang", "en")
    if lang not in LANGUAGES:
        abort(400, "lang is en or ne")

    def load(session: Any) -> Any:
        return month_statement(session, party_id, BsMonth.parse(request.args.get("month", "")))

    month = read(load)
    pdf = render_statements([month], lang, lambda key: t(key, lang))
    name = f"khata-{month.phone.lstrip('+')}-{month.month.key()}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/retailers/<int:party_id>/statement.csv")
def statement(party_id: int) -> ResponseReturnValue:
    if request.args.get("month"):  # the month picker: one BS month, BS dates first
        month = read(lambda session: month_statement(session, party_id, BsMonth.parse(request.args["month"])))
        buffer = io.StringIO()
        write_month_csv(month, buffer)
        name = f"khata-{month.phone.lstrip('+')}-{month.month.key()}.csv"
        return Response(
            "\ufeff" + buffer.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def load(session: Any) -> tuple[Any, list[StatementRow]]:
        start = read_model.parse_day(request.args.get("from"), "from") or read_model.nepal_today() - timedelta(days=30)
        end = read_model.parse_day(request.args.get("to"), "to") or read_model.nepal_today()
        party = get_retailer(session, party_id)
        return party, statement_rows(session, party_id, start, end)

    party, rows = read(load)
    buffer = io.StringIO()
    write_statement_csv(rows, buffer)
    name = f"khata-{party.whatsapp_number.lstrip('+')}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # the BOM lets Excel read Devanagari descriptions as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- audit and messages --------------------------------------------------------------------------


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    args = _args()
    tab = "conflicts" if args.get("tab") == "conflicts" else "admin"
    try:
        flt = read_model.AuditFilter.parse(args)
    except InvalidInput as exc:
        flash(str(exc), "error")
        flt = read_model.AuditFilter()
    if tab == "conflicts":
        page = read(read_model.decision_conflicts, flt, args.get("order"), args.get("after"))
    else:
        page = read(read_model.admin_audit, flt, args.get("after"))
    first_args = {k: v for k, v in args.items() if k != "after"}
    return render_template(
        "dashboard/audit.html",
        tab=tab,
        page=page,
        args=args,
        first_args=first_args,
        next_args=first_args | {"after": page.next_cursor},
    )


@bp.get("/messages")
def messages() -> ResponseReturnValue:
    page = read(read_model.failed_outbound, request.args.get("after"))
    failed = jobs.failed_jobs(services().redis)
    return render_template("dashboard/messages.html", page=page, jobs=failed)


@bp.post("/messages/<int:outbound_id>/retry")
def retry_message(outbound_id: int) -> ResponseReturnValue:
    try:
        perform(actions.retry_outbound, outbound_id)
        _enqueue_send(outbound_id)
        flash(f"Message {outbound_id} is queued to send again.", "ok")
    except ActionFailed as exc:
        flash_failure(exc)
    return _back(url_for("dashboard.messages"))


def _enqueue_send(outbound_id: int) -> None:
    try:
        enqueue_send(services().redis, services().settings, outbound_id)
    except RedisError:
        flash("Redis is unavailable: the message is back in the outbox and the sweep will send it.", "info")


@bp.post("/jobs/<queue>/<job_id>/retry")
def retry_job(queue: str, job_id: str) -> ResponseReturnValue:
    try:
        job = jobs.retry_job(services().redis, queue, job_id)
        perform(actions.record_job_retry, job_id, queue, job.func_name)
        flash(f"Job {job_id} is queued again.", "ok")
    except ActionFailed as exc:
        flash_failure(exc)
    except DomainError as exc:  # not in the failed list (retried already, expired) or unknown queue
        flash(str(exc), "error")
    return _back(url_for("dashboard.messages"))


@bp.app_template_filter("npr")
def _npr_filter(value: Any) -> str:
    return "—" if value is None else npr(value)


@bp.app_template_filter("bs_when")
def _bs_when_filter(value: Any) -> str:
    # The khata in Bikram Sambat, the Gregorian date beside it: '2083-08-14 (2026-11-30) 16:05'.
    return admin_when(value) if value else "—"


@bp.app_template_filter("qty")
def _qty_filter(value: Any) -> str:
    # 30.000 -> "30", 12.500 -> "12.5"; never Decimal's "3E+1".
    return "—" if value is None else format(value.normalize(), "f")


@bp.app_template_filter("when")
def _when_filter(value: Any) -> str:
    return value.astimezone(NEPAL).strftime("%Y-%m-%d %H:%M") if value else "—"


@bp.app_template_global("pct")
def _pct(value: float | None) -> Markup:
    return Markup("—") if value is None else Markup(f"{value * 100:.0f}%")
