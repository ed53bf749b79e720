"""Parse rate on one core: a 100-product and a 5,000-product catalog (issue 16 targets: 2,000 and
500 messages/second).

The catalog is the demo catalog (db/demo/products.csv) plus generated but realistic products
(brand x variety x pack size, with romanised aliases and the typos people use), cut to the size.
Messages are both labelled corpora (tests/data/parser_corpus.jsonl and tests/data/corpus/*.jsonl),
parsed round-robin for a few seconds.

    python bench/parser_rate.py [--seconds 5] [--products 100,5000]

Prints messages/second per catalog and the ratio against its target; exits 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from parsing.parser import Catalog, CatalogEntry, parse  # noqa: E402

TARGET = 2000.0
TARGETS = {100: 2000.0, 5000: 500.0}  # products -> messages/second (issue 16)
DEMO = ROOT / "db" / "demo" / "products.csv"
CORPUS = ROOT / "tests" / "data" / "parser_corpus.jsonl"

# (category code, unit, generic word, Nepali word, varieties, pack sizes)
_FAMILIES: list[tuple[str, str, str, str, list[str], list[str]]] = [
    (
        "RICE",
        "bora",
        "rice",
        "चामल",
        ["Jeera Masino", "Basmati", "Sona Mansuli", "Pokhreli", "Anadi", "Marsi", "Kalanamak", "Taichin", "Mansara"],
        ["25kg", "10kg", "5kg"],
    ),
    (
        "DAL",
        "kg",
        "dal",
        "दाल",
        ["Masoor", "Moong", "Rahar", "Chana", "Maas", "Mugi Chhata", "Kerau", "Bodi"],
        ["1kg", "500g", "5kg"],
    ),
    (
        "OIL",
        "litre",
        "oil",
        "तेल",
        ["Mustard", "Sunflower", "Soyabean", "Rice Bran", "Palm", "Groundnut"],
        ["1L", "5L", "15L"],
    ),
    (
        "FLOUR",
        "kg",
        "flour",
        "पिठो",
        ["Atta", "Maida", "Suji", "Besan", "Makai Pitho", "Kodo Pitho"],
        ["1kg", "5kg", "10kg"],
    ),
    (
        "SPICE",
        "packet",
        "masala",
        "मसला",
        [
            "Jeera Powder",
            "Besar",
            "Dhaniya",
            "Khursani",
            "Garam Masala",
            "Chhola Masala",
            "Chicken Masala",
            "Achar Masala",
            "Timur",
            "Methi",
            "Sukmel",
            "Marich",
        ],
        ["50g", "100g", "200g"],
    ),
    (
        "NOODLE",
        "carton",
        "noodles",
        "चाउचाउ",
        ["Chicken", "Veg", "Masala", "Jhol", "Spicy", "Tomato"],
        ["Carton", "Family Pack"],
    ),
    (
        "BISC",
        "carton",
        "biscuit",
        "बिस्कुट",
        ["Glucose", "Cream", "Marie", "Digestive", "Coconut", "Butter", "Cookies"],
        ["Carton", "Big Pack"],
    ),
    ("SOAP", "dozen", "soap", "साबुन", ["Rose", "Lemon", "Neem", "Sandal", "Herbal", "Aloe"], ["75g", "125g"]),
    ("DET", "packet", "powder", "पाउडर", ["Detergent", "Washing Bar", "Liquid", "Matic"], ["500g", "1kg", "2kg"]),
    (
        "DRINK",
        "crate",
        "drink",
        "पेय",
        ["Cola", "Orange", "Lemon", "Soda", "Mango", "Energy"],
        ["250ml Crate", "1.5L Bottle"],
    ),
    ("TEA", "packet", "tea", "चिया", ["CTC", "Green", "Orthodox", "Masala", "Gold"], ["250g", "500g", "1kg"]),
    (
        "SNACK",
        "box",
        "snacks",
        "खाजा",
        ["Chips", "Bhujia", "Namkeen", "Peanuts", "Chiura Mix"],
        ["Small Box", "Big Box"],
    ),
]
_BRANDS = [
    "Ganesh",
    "Kissan",
    "Gyan",
    "Tarai",
    "Himalayan",
    "Sagar",
    "Laxmi",
    "Annapurna",
    "Everest",
    "Bageshwori",
    "Shree",
    "Nebico",
    "Asian",
    "Bhagwati",
    "Pashupati",
    "Goldstar",
    "Mount",
    "Gorkha",
    "Sunrise",
    "Janakpur",
    "Mechi",
    "Koshi",
    "Narayani",
    "Bhrikuti",
    "Sita",
    "Ujyalo",
    "Swadesh",
    "Navaratna",
    "Hilltop",
    "Khukuri",
]
_ROMAN_NE = {"Rice": "chamal", "Oil": "tel", "Tea": "chiya", "Soap": "sabun", "Biscuit": "biskut"}


def _typo(word: str, rng: random.Random) -> str:
    """The kind of misspelling people send: a doubled or dropped letter."""
    if len(word) < 5:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i] + word[i:]


def generated_entries(count: int, seed: int = 7) -> list[CatalogEntry]:
    rng = random.Random(seed)
    combos = [
        (fam, brand, variety, size) for fam in _FAMILIES for variety in fam[4] for brand in _BRANDS for size in fam[5]
    ]
    rng.shuffle(combos)
    out: list[CatalogEntry] = []
    seen: set[str] = set()
    for (code, unit, generic, nepali, _v, _s), brand, variety, size in combos:
        if len(out) >= count:
            break
        sku = f"{code}-{brand[:4]}-{''.join(w[:3] for w in variety.split())}-{size.replace(' ', '')}".upper()
        sku = sku.replace(".", "")
        if sku in seen:
            continue
        seen.add(sku)
        title_generic = generic.title()
        kind = "" if variety.lower().endswith(generic) else f" {title_generic}"
        name = f"{brand} {variety}{kind} {size}"
        aliases = [
            f"{brand} {variety}".lower(),
            f"{brand} {variety} {size}".lower(),
            f"{brand} {variety}{' ' + _ROMAN_NE.get(title_generic, generic) if kind else ''}".lower(),
            _typo(brand.lower(), rng) + " " + variety.lower(),
        ]
        out.append(
            CatalogEntry(
                sku=sku,
                name=name,
                name_ne=f"{brand} {variety} {nepali}",
                aliases=tuple(dict.fromkeys(aliases)),
                unit=unit if "Bottle" not in size else "bottle",
            )
        )
    return out


def build_catalog(products: int = 1000) -> Catalog:
    demo = list(Catalog.from_csv(DEMO))[:products]
    return Catalog(demo + generated_entries(max(0, products - len(demo))))


def load_messages() -> list[tuple[str, str]]:
    files = [CORPUS, *sorted((ROOT / "tests" / "data" / "corpus").glob("messages_*.jsonl"))]
    rows = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["text"], r.get("role", "retailer")) for r in rows]


def measure(catalog: Catalog, messages: list[tuple[str, str]], seconds: float) -> tuple[int, float, float]:
    """(messages parsed, wall seconds, CPU seconds of this process). On a shared machine the CPU
    time is the per-core figure; the wall time also counts waiting for a core."""
    for text, role in messages:  # warm-up
        parse(text, catalog, role)
    gc.collect()
    done = 0
    start, cpu = time.perf_counter(), time.process_time()
    deadline = start + seconds
    while True:
        for text, role in messages:
            parse(text, catalog, role)
        done += len(messages)
        now = time.perf_counter()
        if now >= deadline:
            return done, now - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--products", default="100,5000", help="catalog sizes, comma-separated")
    args = ap.parse_args(argv)
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    messages = load_messages()
    for size in (int(n) for n in args.products.split(",")):
        t0 = time.perf_counter()
        catalog = build_catalog(size)
        built = time.perf_counter() - t0
        done, elapsed, cpu = measure(catalog, messages, args.seconds)
        rate = done / cpu
        target = TARGETS.get(size, TARGET)
        print(f"catalog: {len(catalog)} products (built in {built * 1000:.0f} ms)")
        print(
            f"  messages: {len(messages)} distinct corpus messages, {done} parsed in {elapsed:.2f} s ({cpu:.2f} s CPU)"
        )
        print(f"  rate: {rate:,.0f} messages/CPU-second on one core ({done / elapsed:,.0f}/s wall clock)")
        print(f"  target: {target:,.0f}/s  ratio: {rate / target:.2f}x  {'OK' if rate >= target else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
