"""Property tests for parsing.parser: it never raises, and what it returns is always well-formed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parsing.lexicon import UNIT_CODES
from parsing.orders import max_quantity
from parsing.parser import INTENTS as INTENT_NAMES
from parsing.parser import Catalog, Intent, decimal_str, parse

ROOT = Path(__file__).resolve().parent.parent
CATALOG = Catalog.from_csv(ROOT / "db" / "demo" / "products.csv")
INTENTS = set(INTENT_NAMES)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

devanagari = st.characters(min_codepoint=0x0900, max_codepoint=0x097F)
latin = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
digits = st.sampled_from("0123456789०१२३४५६७८९.,/½")
marks = st.sampled_from(" \n\t-•*)(:;&+x×#?!🙏👍❌\u200c\u200d\x00\ud800")
chars = st.one_of(devanagari, latin, digits, marks, st.characters())
messy_text = st.one_of(st.text(), st.text(alphabet=chars, max_size=200))

words = sorted(
    {w for e in CATALOG for a in (e.name, e.name_ne or "", *e.aliases) for w in a.split()}
    | {"2", "10", "२", "५", "aadha", "dedh", "dui", "tin", "kg", "bora", "ctn", "packet", "ta", "x", "and", "ra", "र"}
    | {",", "\n", "namaste", "dai", "pathaunu"}
)
order_like = st.lists(st.sampled_from(words), min_size=0, max_size=25).map(" ".join)
roles = st.sampled_from(["retailer", "wholesaler"])


def check_well_formed(result: Intent) -> None:
    assert isinstance(result, Intent)
    assert result.intent in INTENTS
    assert result.script in ("latin", "devanagari")
    for item in result.items:
        assert item.sku in CATALOG, item
        assert item.unit in UNIT_CODES, item
        assert isinstance(item.quantity, Decimal) and item.quantity.is_finite()
        if result.intent == "stock":
            assert item.quantity >= 0
        else:
            assert item.quantity > 0, item
    for amb in result.ambiguities:
        assert len(amb.candidates) >= 2 or result.intent == "stock"
        assert all(sku in CATALOG for sku in amb.candidates)
        assert len(set(amb.candidates)) == len(amb.candidates)
    if result.order_ref is not None:
        assert result.order_ref.startswith("TK-") and result.order_ref == result.order_ref.upper()
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"intent", "items", "ambiguities", "unmatched", "order_ref"} <= data.keys()


@SETTINGS
@given(text=messy_text, role=roles)
def test_never_raises_on_arbitrary_text(text: str, role: str) -> None:
    check_well_formed(parse(text, CATALOG, role))


@SETTINGS
@given(text=order_like, role=roles)
def test_order_like_word_salad_is_well_formed(text: str, role: str) -> None:
    check_well_formed(parse(text, CATALOG, role))


# Aliases that name exactly one product on their own (not a generic word, not a chat word).
UNIQUE_ALIASES = sorted(
    {
        (alias, e.sku)
        for e in CATALOG
        for alias in e.aliases
        if not any(ch.isdigit() for ch in alias)
        and parse(alias, CATALOG).items
        and parse(alias, CATALOG).items[0].sku == e.sku
        and len(parse(alias, CATALOG).items) == 1
    }
)
UNIT_SPELLINGS = {"bora": "bora", "kg": "kg", "litre": "ltr", "carton": "ctn", "packet": "pkt", "piece": "pcs",
                  "dozen": "dozen", "tray": "tray", "crate": "crate", "case": "case", "box": "box",
                  "bottle": "bottle", "g": "gram"}


_ALIAS_WORDS = [(frozenset(a.lower().split()), e.sku) for e in CATALOG for a in e.aliases]


def _spells_another_product(alias: str, unit_word: str, sku: str) -> bool:
    own = frozenset(alias.lower().split())
    words = own | {unit_word.lower()}
    return any(other <= words and not other <= own and other_sku != sku for other, other_sku in _ALIAS_WORDS)


def test_most_aliases_stand_alone() -> None:
    total = sum(len(e.aliases) for e in CATALOG)
    assert len(UNIQUE_ALIASES) >= 0.8 * total


@SETTINGS
@given(
    pair=st.sampled_from(UNIQUE_ALIASES),
    quantity=st.integers(min_value=1, max_value=9999),
    unit=st.sampled_from(sorted(UNIT_SPELLINGS)),
    before=st.booleans(),
    polite=st.sampled_from(["", "namaste dai, ", "please send ", "🙏 "]),
)
def test_alias_quantity_unit_round_trip(
    pair: tuple[str, str], quantity: int, unit: str, before: bool, polite: str
) -> None:
    alias, sku = pair
    spelled = UNIT_SPELLINGS[unit]
    # "1 bottle pani jar" also spells another product's alias ("pani bottle"): truly ambiguous.
    assume(not _spells_another_product(alias, spelled, sku))
    body = f"{quantity} {spelled} {alias}" if before else f"{alias} {quantity} {spelled}"
    result = parse(polite + body, CATALOG)
    assert result.intent == "order"
    if quantity > max_quantity(unit):
        # thousands of bags: refused and asked, never trimmed to something else (issue 13)
        assert result.items == () and [b.sku for b in result.bad_quantities] == [sku], body
        return
    assert [(i.sku, decimal_str(i.quantity), i.unit) for i in result.items] == [(sku, str(quantity), unit)], body
