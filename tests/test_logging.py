# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Structured logs: one JSON line per request and per job, with the ids to grep, phones masked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from domain.parties import register_retailer
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    app,
    fake_twilio,
    jobs,
    signed_headers,
    thok_settings,
    twilio_form,
)
from thok.logging import bind, configure_logging, mask_phones, reset_context
from workers.metrics import MeteredSimpleWorker

RETAILER = "+9779841000001"


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_phone_numbers_are_masked_but_ids_are_not() -> None:
    assert mask_phones("from whatsapp:+9779841234567") == "from whatsapp:+97798****4567"
    assert mask_phones("call 9841234567 or 9779851234567") == "call +97798****4567 or +97798****4567"
    sid = "SM" + "9841234567" * 3 + "ab"
    assert mask_phones(f"sid {sid}, order TK-98AB, 3 items") == f"sid {sid}, order TK-98AB, 3 items"


def test_a_line_carries_the_bound_context_and_masks_fields() -> None:
    buffer = io.StringIO()
    handler = configure_logging("INFO", "json", stream=buffer)
    try:
        reset_context(job_id="close-window-7")
        bind(order_ref="TK-4F2A", message_sid="SMabc")
        logging.getLogger("thok.test").info("told %s", "+9779841234567", extra={"to": "+9779841234567"})
    finally:
        reset_context()
        logging.getLogger().removeHandler(handler)
    [line] = lines(buffer)
    assert line["job_id"] == "close-window-7" and line["order_ref"] == "TK-4F2A" and line["message_sid"] == "SMabc"
    assert line["msg"] == "told +97798****4567" and line["to"] == "+97798****4567"
    assert "9841234567" not in buffer.getvalue()


def test_one_line_per_request_and_per_job_with_the_message_sid(app, fresh_database, redis, fake_twilio) -> None:
    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana")
        uow.commit()
    buffer = io.StringIO()
    handler = configure_logging("INFO", "json", stream=buffer)  # after create_app, which installs its own
    sid = "SM" + "f" * 32
    try:
        form = twilio_form(sid, sender=RETAILER, body="namaste")
        path = "/webhooks/twilio/whatsapp"
        resp = app.test_client().post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC)
        assert resp.status_code == 200
        MeteredSimpleWorker(["inbound"], connection=redis).work(burst=True, with_scheduler=False)
    finally:
        logging.getLogger().removeHandler(handler)
    logged = lines(buffer)
    [request_line] = [x for x in logged if x["logger"] == "thok.web" and x.get("path") == path]
    assert request_line["status"] == 200 and request_line["message_sid"] == sid and "duration_ms" in request_line
    [job_line] = [x for x in logged if x["logger"] == "thok.jobs"]
    assert job_line["job"] == "process_inbound" and job_line["outcome"] == "finished"
    assert job_line["job_id"].startswith("inbound-") and job_line["message_sid"] == sid
    story = [x for x in logged if x.get("message_sid") == sid]  # what `grep SM...` finds
    assert {x["logger"] for x in story} >= {"thok.web", "thok.jobs", "workers.inbound"}
    assert "9841000001" not in buffer.getvalue()  # the sender appears masked only
    assert "+97798****0001" in buffer.getvalue()


def test_thok_workers_job_line_is_the_only_one_per_job(app, fresh_database, redis, fake_twilio) -> None:
    """`thok worker` (ThokWorker) writes one line per job, its own with the result; RQ's four per-job
    INFO lines (taken, completed, "Job OK", the result's lifespan) are dropped, its others kept."""
    from workers.supervision import ThokWorker

    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana")
        uow.commit()
    buffer = io.StringIO()
    handler = configure_logging("INFO", "json", stream=buffer)
    sid = "SM" + "e" * 32
    try:
        form = twilio_form(sid, sender=RETAILER, body="namaste")
        path = "/webhooks/twilio/whatsapp"
        resp = app.test_client().post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC)
        assert resp.status_code == 200
        ThokWorker(["inbound"], connection=redis).work(burst=True, with_scheduler=False)
    finally:
        logging.getLogger().removeHandler(handler)
    logged = lines(buffer)
    [job_line] = [x for x in logged if x["logger"] == "thok.jobs"]
    assert job_line["outcome"] == "finished" and job_line["result"] == "processed: 1 replies"
    rq_lines = [x["msg"] for x in logged if x["logger"] == "rq.worker"]
    assert not [m for m in rq_lines if "inbound-" in m or "Job OK" in m or "Successfully completed" in m], rq_lines
    assert any("Listening on" in m for m in rq_lines), rq_lines  # RQ's lifecycle lines stay
