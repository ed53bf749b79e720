"""Parser accuracy on the labelled corpus: intent accuracy, item precision/recall, and the misses.

    python bench/parser_accuracy.py [--corpus tests/data/parser_corpus.jsonl] [--products 82|1000]

An item is correct when sku, quantity and unit all match. With --products above the demo size the
catalog is padded with the generated products of bench/parser_rate.py (harder: more look-alikes).
Exits 0 (a report, not a gate; tests/test_parser_corpus.py holds the 0.97 floors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bot.parser import Catalog  # noqa: E402
from bot.parsing.corpus import evaluate, load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT / "tests" / "data" / "parser_corpus.jsonl"))
    ap.add_argument("--products", type=int, default=0, help="pad the demo catalog to this many products")
    args = ap.parse_args(argv)

    if args.products:
        from parser_rate import build_catalog

        catalog = build_catalog(args.products)
    else:
        catalog = Catalog.from_csv(ROOT / "db" / "demo" / "products.csv")
    report = evaluate(load(args.corpus), catalog)
    print(f"catalog: {len(catalog)} products")
    print(f"messages:         {report.messages}")
    print(f"intent accuracy:  {report.intent_accuracy:.4f}  ({report.intents_ok}/{report.messages})")
    print(f"item precision:   {report.item_precision:.4f}  ({report.items_ok}/{report.items_predicted})")
    print(f"item recall:      {report.item_recall:.4f}  ({report.items_ok}/{report.items_expected})")
    print(f"ambiguity:        {report.ambiguity_accuracy:.4f}  ({report.ambiguity_ok}/{report.ambiguity_checked})")
    print(f"fields:           {report.field_accuracy:.4f}  ({report.fields_ok}/{report.fields_checked})")
    if report.intent_confusion:
        print("intent confusion (expected -> got):")
        for (want, got), n in report.intent_confusion.most_common():
            print(f"  {want} -> {got}: {n}")
    print(f"misparsed messages: {len(report.misses)}")
    for miss in report.misses:
        print(f"  [{miss.role}] {miss.text!r}")
        for problem in miss.problems:
            print(f"      {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
