"""Scoring the parser against the labelled corpora (tests/data/parser_corpus.jsonl, and the
three-catalog corpus tests/data/corpus/ of issue 16: see `load_catalog_corpus`).

Shared by tests/test_parser_corpus.py and bench/parser_accuracy.py. A corpus line:
{"text": ..., "role": "retailer"|"wholesaler", "intent": ..., "items": [{"sku","quantity","unit"}],
 optional "ambiguous": true, "unmatched": true, and expected values for order_ref, price,
 delivery_days, language, phone, amount, method, reference, stock_quantity}.
An item is correct when sku, quantity and unit all match.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from parsing.parser import Catalog, Intent, decimal_str, parse

FIELDS = (
    "order_ref",
    "price",
    "delivery_days",
    "language",
    "phone",
    "amount",
    "method",
    "reference",
    "stock_quantity",
)


def load(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _q(value: str | Decimal) -> str:
    return decimal_str(Decimal(str(value)))


def _items(items: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((i["sku"], _q(i["quantity"]), i["unit"]) for i in items)


@dataclass
class Miss:
    text: str
    role: str
    problems: list[str]
    got: dict[str, Any]


@dataclass
class Report:
    messages: int = 0
    intents_ok: int = 0
    items_expected: int = 0
    items_predicted: int = 0
    items_ok: int = 0
    ambiguity_checked: int = 0
    ambiguity_ok: int = 0
    fields_checked: int = 0
    fields_ok: int = 0
    misses: list[Miss] = field(default_factory=list)
    intent_confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    exact: int = 0  # messages with no problem at all
    non_orders: int = 0  # messages whose label is not an order
    false_orders: int = 0  # ... that the parser made an order of
    intent_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got), all messages
    kinds: Counter[str] = field(default_factory=Counter)  # misses by the row's "kind"

    @property
    def exact_match(self) -> float:
        return self.exact / self.messages if self.messages else 1.0

    @property
    def false_order_rate(self) -> float:
        return self.false_orders / self.non_orders if self.non_orders else 0.0

    @property
    def intent_accuracy(self) -> float:
        return self.intents_ok / self.messages if self.messages else 1.0

    @property
    def item_precision(self) -> float:
        return self.items_ok / self.items_predicted if self.items_predicted else 1.0

    @property
    def item_recall(self) -> float:
        return self.items_ok / self.items_expected if self.items_expected else 1.0

    @property
    def ambiguity_accuracy(self) -> float:
        return self.ambiguity_ok / self.ambiguity_checked if self.ambiguity_checked else 1.0

    @property
    def field_accuracy(self) -> float:
        return self.fields_ok / self.fields_checked if self.fields_checked else 1.0

    def summary(self) -> str:
        return (
            f"messages {self.messages}  intent accuracy {self.intent_accuracy:.4f}  "
            f"item precision {self.item_precision:.4f}  item recall {self.item_recall:.4f}  "
            f"ambiguity {self.ambiguity_accuracy:.4f}  fields {self.field_accuracy:.4f}"
        )


def _field_value(intent: Intent, name: str) -> Any:
    value = getattr(intent, name)
    if isinstance(value, Decimal):
        return decimal_str(value)
    return value


def evaluate(rows: list[dict[str, Any]], catalog: Catalog) -> Report:
    report = Report()
    for row in rows:
        got = parse(row["text"], catalog, row.get("role", "retailer"))
        problems: list[str] = []
        report.messages += 1
        report.intent_pairs[(row["intent"], got.intent)] += 1
        if row["intent"] != "order":
            report.non_orders += 1
            report.false_orders += got.intent == "order"
        if got.intent == row["intent"]:
            report.intents_ok += 1
        else:
            problems.append(f"intent {got.intent} != {row['intent']}")
            report.intent_confusion[(row["intent"], got.intent)] += 1
        want = _items(row.get("items", []))
        have = _items([{"sku": i.sku, "quantity": i.quantity, "unit": i.unit} for i in got.items])
        report.items_expected += sum(want.values())
        report.items_predicted += sum(have.values())
        report.items_ok += sum((want & have).values())
        if want != have:
            problems.append(f"items {sorted(have.elements())} != {sorted(want.elements())}")
        if row["intent"] == "order":
            report.ambiguity_checked += 1
            expected_ambiguous = bool(row.get("ambiguous"))
            if expected_ambiguous == bool(got.ambiguities):
                report.ambiguity_ok += 1
            else:
                found = [a.candidates for a in got.ambiguities]
                problems.append(f"ambiguities {found} (expected {expected_ambiguous})")
            if "unmatched" in row:
                report.fields_checked += 1
                if bool(row["unmatched"]) == bool(got.unmatched):
                    report.fields_ok += 1
                else:
                    problems.append(f"unmatched {list(got.unmatched)} (expected {row['unmatched']})")
        if "products" in row and row["intent"] == got.intent and set(row["products"]) != set(got.products):
            problems.append(f"products {sorted(got.products)} != {sorted(row['products'])}")
        if row["intent"] == "order" and bool(row.get("bad_quantity")) != bool(got.bad_quantities):
            problems.append(
                f"bad quantities {[b.text for b in got.bad_quantities]} (expected {bool(row.get('bad_quantity'))})"
            )
        for name in FIELDS:
            if name not in row:
                continue
            report.fields_checked += 1
            expected = row[name]
            if name in ("price", "amount", "stock_quantity") and expected is not None:
                expected = _q(expected)
            value = _field_value(got, name)
            if value == expected:
                report.fields_ok += 1
            else:
                problems.append(f"{name} {value!r} != {expected!r}")
        if not problems:
            report.exact += 1
        else:
            report.kinds[row.get("kind", "")] += 1
            report.misses.append(Miss(row["text"], row.get("role", "retailer"), problems, got.to_dict()))
    return report


CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus"


def load_catalog_corpus(directory: str | Path = CORPUS_DIR) -> dict[str, tuple[Catalog, list[dict[str, Any]]]]:
    """{"a": (catalog, rows), ...} for every catalog_X.csv with its messages_X.jsonl. Rows carry a
    "split" ("tune" or "holdout"): only tune rows may be looked at when changing the parser."""
    out: dict[str, tuple[Catalog, list[dict[str, Any]]]] = {}
    folder = Path(directory)
    for csv_path in sorted(folder.glob("catalog_*.csv")):
        name = csv_path.stem.split("_", 1)[1]
        messages = folder / f"messages_{name}.jsonl"
        if messages.exists():
            out[name] = (Catalog.from_csv(csv_path), load(messages))
    return out
