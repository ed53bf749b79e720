"""`thok parse`: the parser on the database's catalog, from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from db.session import Database
from tests.conftest import ROOT
from thok.seed import seed_demo


def thok(*args: str, url: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "thok", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_parse_json_and_jsonl(fresh_database_url: str) -> None:
    db = Database(fresh_database_url)
    with db.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    db.dispose()

    one = thok("parse", "--json", "Namaste dai, २ बोरा जीरा मसिनो र 5 ctn wai wai", url=fresh_database_url)
    assert one.returncode == 0, one.stderr
    intent = json.loads(one.stdout)
    assert intent["intent"] == "order"
    assert [(i["sku"], i["quantity"], i["unit"]) for i in intent["items"]] == [
        ("RICE-JEERA", "2", "bora"),
        ("NOODLE-WAIWAI", "5", "carton"),
    ]

    lines = "\n".join(json.dumps(m) for m in ["2 bora chamal", "hisab", "OFFER TK-7F3K 5400 tomorrow"]) + "\n"
    many = thok("parse", "--jsonl", url=fresh_database_url, stdin=lines)
    assert many.returncode == 0, many.stderr
    out = [json.loads(line) for line in many.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["order", "balance", "unknown"]  # OFFER is a wholesaler's word
    assert out[0]["ambiguities"][0]["candidates"][:2] and out[0]["items"] == []

    wholesaler = thok("parse", "--jsonl", "--role", "wholesaler", url=fresh_database_url, stdin=lines)
    assert json.loads(wholesaler.stdout.splitlines()[2])["order_ref"] == "TK-7F3K"

    bad = thok("parse", "--jsonl", url=fresh_database_url, stdin="not json\n")
    assert bad.returncode == 1 and "stdin line 1 is not a JSON string" in bad.stderr


def test_parse_reports_the_new_intents_units_as_written_and_why(fresh_database_url: str) -> None:
    db = Database(fresh_database_url)
    with db.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    db.dispose()
    messages = [
        "chini ko rate kati?",
        "aghi ko order feri pathaunu",
        "chini 2 quintal",
        "-5 kg chini",
        "hijo 2 anda futeko thiyo",
    ]
    lines = "\n".join(json.dumps(m) for m in messages) + "\n"
    run = thok("parse", "--jsonl", url=fresh_database_url, stdin=lines)
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["price", "reorder", "order", "order", "unknown"]
    assert out[0]["products"] == ["SUGAR"]
    assert [(i["sku"], i["quantity"], i["unit"]) for i in out[2]["items"]] == [("SUGAR", "2", "quintal")]
    assert out[3]["items"] == [] and out[3]["bad_quantities"][0]["text"] == "-5 kg"
    assert out[3]["bad_quantities"][0]["reason"] == "negative"
    assert all(o["why"] for o in out) and any("complaint" in w for w in out[4]["why"])
