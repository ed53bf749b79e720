"""Focused tests of the pure message parser (parsing.parser). No database, no network."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path

import pytest

from parsing.parser import Ambiguity, Catalog, CatalogEntry, Intent, ParsedItem, decimal_str, parse

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ROOT / "db" / "demo" / "products.csv"
RICE = ("RICE-JEERA", "RICE-BASMATI", "RICE-SONA", "RICE-MOTA")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_csv(PRODUCTS)


def items(result: Intent) -> list[tuple[str, str, str]]:
    return [(i.sku, decimal_str(i.quantity), i.unit) for i in result.items]


def one(text: str, catalog: Catalog) -> tuple[str, Decimal, str]:
    result = parse(text, catalog)
    assert result.intent == "order", (text, result)
    assert len(result.items) == 1 and not result.ambiguities, (text, result)
    item = result.items[0]
    return item.sku, item.quantity, item.unit


# --- catalog -------------------------------------------------------------------------------------
def test_demo_catalog_shape(catalog: Catalog) -> None:
    assert len(catalog) >= 60
    units = {"bora", "kg", "g", "litre", "carton", "packet", "piece", "dozen", "tray", "crate", "case", "box", "bottle"}
    assert {e.unit for e in catalog} <= units
    jeera = catalog.get("RICE-JEERA")
    assert jeera is not None and "jeera masino" in jeera.aliases and jeera.unit == "bora"
    assert catalog.get("SPICE-JEERA") is not None
    assert all(e.name_ne for e in catalog), "every demo product has a Devanagari name"


def test_catalog_from_entries_is_reusable() -> None:
    cat = Catalog(
        [
            CatalogEntry("TEA-GOLD", "Gold Tea", "गोल्ड चिया", ("gold chiya",), "packet"),
            CatalogEntry("tea-leaf", "Leaf Tea", None, ("patti",), "KG"),
        ]
    )
    assert "TEA-LEAF" in cat and cat.unit_of("TEA-LEAF") == "kg"  # sku upper-cased, unit lower-cased
    assert items(parse("gold chiya 3 packet", cat)) == [("TEA-GOLD", "3", "packet")]
    assert items(parse("patti 2", cat)) == [("TEA-LEAF", "2", "kg")]
    assert items(parse("गोल्ड चिया ४", cat)) == [("TEA-GOLD", "4", "packet")]


# --- product matching ----------------------------------------------------------------------------
def test_longest_match_wins(catalog: Catalog) -> None:
    assert one("jeera masino 2 bora", catalog)[0] == "RICE-JEERA"
    assert one("jeera 2 kg", catalog)[0] == "SPICE-JEERA"
    result = parse("jeera masino 1 bora, jeera 500 g", catalog)
    assert items(result) == [("RICE-JEERA", "1", "bora"), ("SPICE-JEERA", "500", "g")]


@pytest.mark.parametrize("text", ["waiwai 5 ctn", "wai wai 5 ctn", "Wai-Wai 5 ctn", "WAI WAI 5 CTN", "वाई वाई ५ कार्टुन"])
def test_case_and_spacing_insensitive(catalog: Catalog, text: str) -> None:
    assert one(text, catalog) == ("NOODLE-WAIWAI", Decimal(5), "carton")


@pytest.mark.parametrize(
    ("text", "sku"),
    [
        ("jeera masinoo 2 bora", "RICE-JEERA"),  # not cumin + noise
        ("jeera masinno 2 bora", "RICE-JEERA"),
        ("daraa oil 5 litre", "OIL-DHARA"),
        ("basmathi 1 bora", "RICE-BASMATI"),
        ("cheeni 10 kg", "SUGAR"),
        ("lifeboy 2 dozen", "SOAP-LIFEBUOY"),
        ("sunflowr oil 2 ltr", "OIL-SUNFLOWER"),
        ("colgatee 5 pcs", "PASTE-COLGATE"),
    ],
)
def test_typos_are_matched(catalog: Catalog, text: str, sku: str) -> None:
    assert one(text, catalog)[0] == sku


def test_name_alias_and_devanagari_name_all_match(catalog: Catalog) -> None:
    for text in ("Jeera Masino Rice 1 bora", "jira masino 1 bora", "जीरा मसिनो चामल १ बोरा", "RICE-JEERA 1"):
        assert one(text, catalog) == ("RICE-JEERA", Decimal(1), "bora"), text


def test_matched_text_quotes_the_message(catalog: Catalog) -> None:
    result = parse("Please send 2 bora Jeera Masino", catalog)
    assert result.items[0].matched_text == "Jeera Masino"


# --- ambiguity -----------------------------------------------------------------------------------
def test_generic_word_is_an_ambiguity_not_a_guess(catalog: Catalog) -> None:
    result = parse("2 bora chamal", catalog)
    assert result.intent == "order" and result.items == ()
    assert len(result.ambiguities) == 1
    amb = result.ambiguities[0]
    assert amb.text == "chamal" and set(amb.candidates) == set(RICE)


@pytest.mark.parametrize(
    "text", ["dal 5 kg", "tel 5 litre", "chiya 2 packet", "5 kg ghee", "beer 2 crate", "चामल १ बोरा"]
)
def test_other_generic_words(catalog: Catalog, text: str) -> None:
    result = parse(text, catalog)
    assert result.items == () and len(result.ambiguities) == 1
    assert len(result.ambiguities[0].candidates) >= 2


def test_packaging_unit_tells_products_apart(catalog: Catalog) -> None:
    assert parse("coke", catalog).ambiguities[0].candidates == ("DRINK-COKE-CRATE", "DRINK-COKE-BTL")
    assert one("coke 2 crate", catalog) == ("DRINK-COKE-CRATE", Decimal(2), "crate")
    assert one("2 bottle coke", catalog) == ("DRINK-COKE-BTL", Decimal(2), "bottle")
    assert one("pani 3 case", catalog)[0] == "WATER-1L"


def test_close_fuzzy_scores_are_ambiguous(catalog: Catalog) -> None:
    result = parse("besa 1 kg", catalog)  # besan or besar?
    assert result.items == ()
    assert set(result.ambiguities[0].candidates) == {"BESAN", "SPICE-BESAR"}


def test_generic_word_next_to_its_product_is_absorbed(catalog: Catalog) -> None:
    assert items(parse("sona mansuli rice 2 bora", catalog)) == [("RICE-SONA", "2", "bora")]
    assert items(parse("jeera masino 2 bora chamal", catalog)) == [("RICE-JEERA", "2", "bora")]
    mixed = parse("2 bora jeera masino ra 1 bora chamal", catalog)
    assert items(mixed) == [("RICE-JEERA", "2", "bora")] and len(mixed.ambiguities) == 1


def test_unknown_product_is_reported_unmatched(catalog: Catalog) -> None:
    result = parse("jeera masino 2 bora, 5 kg kaju", catalog)
    assert items(result) == [("RICE-JEERA", "2", "bora")]
    assert result.unmatched == ("kaju",)
    alone = parse("2 kg paneer", catalog)
    assert alone.intent == "order" and alone.items == () and alone.unmatched == ("paneer",)


# --- numbers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("chini 12 kg", "12"),
        ("chini १२ केजी", "12"),
        ("chini 2.5 kg", "2.5"),
        ("चिनी २.५ केजी", "2.5"),
        ("chini 1/2 kg", "0.5"),
        ("chini ½ kg", "0.5"),
        ("chini 1,000 kg", "1000"),
        ("three kg chini", "3"),
        ("twenty five kg chini", "25"),
        ("one and a half kg chini", "1.5"),
        ("half kg chini", "0.5"),
        ("ek kg chini", "1"),
        ("dui kg chini", "2"),
        ("tin kg chini", "3"),
        ("char kg chini", "4"),
        ("panch kg chini", "5"),
        ("chha kg chini", "6"),
        ("saat kg chini", "7"),
        ("aath kg chini", "8"),
        ("nau kg chini", "9"),
        ("das kg chini", "10"),
        ("eghara kg chini", "11"),
        ("bahra kg chini", "12"),
        ("pandhra kg chini", "15"),
        ("bis kg chini", "20"),
        ("एक केजी चिनी", "1"),
        ("दुई केजी चिनी", "2"),
        ("तीन केजी चिनी", "3"),
        ("पाँच केजी चिनी", "5"),
        ("दश केजी चिनी", "10"),
        ("बीस केजी चिनी", "20"),
        ("aadha kg chini", "0.5"),
        ("adha kg chini", "0.5"),
        ("आधा केजी चिनी", "0.5"),
        ("dedh kg chini", "1.5"),
        ("डेढ केजी चिनी", "1.5"),
        ("adhai kg chini", "2.5"),
        ("arhai kg chini", "2.5"),
        ("अढाई केजी चिनी", "2.5"),
        ("sadhe tin kg chini", "3.5"),
        ("sawa dui kg chini", "2.25"),
        ("paune dui kg chini", "1.75"),
        ("ek saya kg chini", "100"),
    ],
)
def test_number_forms(catalog: Catalog, text: str, quantity: str) -> None:
    assert one(text, catalog) == ("SUGAR", Decimal(quantity), "kg")


def test_everyday_words_that_are_also_numbers_need_a_unit(catalog: Catalog) -> None:
    # "tin" is 3 only when a unit or product follows; "ghee tin" is not three ghee.
    assert one("tin bora basmati", catalog)[1] == Decimal(3)
    assert one("dhara tel chha, pathaunu", catalog)[1] == Decimal(1)  # "cha/chha" = is
    assert parse("dhara tel chha?", catalog).intent == "unknown"  # "is there Dhara oil?" asks, orders nothing


def test_long_numbers_are_not_quantities(catalog: Catalog) -> None:
    assert one("chini 2 kg 9841234567", catalog) == ("SUGAR", Decimal(2), "kg")


# --- units ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spelling", "unit"),
    [
        *[(s, "bora") for s in ("bora", "bori", "sack", "sacks", "bag", "बोरा", "बोरी")],
        *[(s, "kg") for s in ("kg", "kgs", "kilo", "केजी", "किलो", "k.g.")],
        *[(s, "g") for s in ("g", "gm", "gram", "grams", "ग्राम")],
        *[(s, "litre") for s in ("litre", "liter", "ltr", "l", "लिटर")],
        *[(s, "carton") for s in ("carton", "ctn", "cartoon", "कार्टुन")],
        *[(s, "packet") for s in ("packet", "pkt", "pack", "प्याकेट", "poka", "पोका")],
        *[(s, "piece") for s in ("piece", "pcs", "pc", "wata", "ota", "ta", "वटा", "गोटा", "gota")],
        *[(s, "dozen") for s in ("dozen", "darjan", "dz", "दर्जन")],
        *[(s, "tray") for s in ("tray", "ट्रे")],
        *[(s, "crate") for s in ("crate", "क्रेट")],
        *[(s, "case") for s in ("case", "केस")],
        *[(s, "box") for s in ("box", "बक्सा")],
        *[(s, "bottle") for s in ("bottle", "btl", "बोतल")],
    ],
)
def test_unit_spellings(catalog: Catalog, spelling: str, unit: str) -> None:
    assert one(f"jeera 3 {spelling}", catalog) == ("SPICE-JEERA", Decimal(3), unit)


def test_glued_units_and_counters(catalog: Catalog) -> None:
    assert one("chini 5kg", catalog) == ("SUGAR", Decimal(5), "kg")
    assert one("2bora basmati", catalog) == ("RICE-BASMATI", Decimal(2), "bora")
    assert one("duita lux", catalog) == ("SOAP-LUX", Decimal(2), "piece")
    assert one("euta colgate", catalog) == ("PASTE-COLGATE", Decimal(1), "piece")
    assert one("५ वटा लक्स", catalog) == ("SOAP-LUX", Decimal(5), "piece")


def test_default_unit_when_none_written(catalog: Catalog) -> None:
    assert one("basmati 2", catalog) == ("RICE-BASMATI", Decimal(2), "bora")
    assert one("wai wai 3", catalog) == ("NOODLE-WAIWAI", Decimal(3), "carton")
    assert one("anda", catalog) == ("EGG-TRAY", Decimal(1), "tray")  # no quantity = 1
    assert one("mustard oil 1 ltr x 12", catalog) == ("OIL-DHARA", Decimal(12), "litre")


# --- layouts -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "chini 10 kg\nnun 5 packet",
        "chini 10 kg, nun 5 packet",
        "chini 10 kg and nun 5 packet",
        "chini 10 kg ra nun 5 packet",
        "चिनी १० केजी र नुन ५ प्याकेट",
        "chini 10 kg & nun 5 packet",
        "chini 10 kg + nun 5 packet",
        "chini 10 kg; nun 5 packet",
        "chini 10 kg ani nun 5 packet",
        "10 kg chini 5 packet nun",
        "chini 10 kg nun 5 packet",
        "1) chini 10 kg\n2) nun 5 packet",
        "1. chini 10 kg\n2. nun 5 packet",
        "- chini 10 kg\n- nun 5 packet",
        "• chini 10 kg\n• nun 5 packet",
        "* chini 10 kg\n* nun 5 packet",
        "Namaste dai 🙏\nchini 10 kg\nnun 5 packet\nDhanyabad",
        "chini - 10 kg\nnun - 5 packet",
        "chini x10 kg, nun x5",
    ],
)
def test_multi_item_layouts(catalog: Catalog, text: str) -> None:
    assert items(parse(text, catalog)) == [("SUGAR", "10", "kg"), ("SALT", "5", "packet")]


@pytest.mark.parametrize("text", ["wai wai x10", "10x wai wai", "wai wai - 10 ctn", "10 carton wai wai", "wai wai 10"])
def test_quantity_before_or_after(catalog: Catalog, text: str) -> None:
    assert one(text, catalog) == ("NOODLE-WAIWAI", Decimal(10), "carton")


def test_politeness_and_emoji_around_an_order(catalog: Catalog) -> None:
    result = parse("Namaste dai, 2 bora jeera masino pathaunu hola 🙏", catalog)
    assert result.intent == "order" and items(result) == [("RICE-JEERA", "2", "bora")]
    assert result.unmatched == () and result.ambiguities == ()
    result = parse("नमस्ते दाइ, ५ केजी जीरा पठाइदिनुहोस् 🙏", catalog)
    assert items(result) == [("SPICE-JEERA", "5", "kg")]


def test_quantity_on_the_next_line(catalog: Catalog) -> None:
    assert items(parse("jeera masino\n2 bora", catalog)) == [("RICE-JEERA", "2", "bora")]


def test_chat_word_brand_only_with_a_quantity(catalog: Catalog) -> None:
    assert parse("hello", catalog).intent == "greeting"
    assert items(parse("parle-g 5 ctn & hello 2 ctn", catalog)) == [
        ("BISC-PARLEG", "5", "carton"),
        ("BISC-HELLO", "2", "carton"),
    ]


# --- retailer intents ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yes", "confirm"), ("y", "confirm"), ("ok", "confirm"), ("ho", "confirm"), ("hajur ho", "confirm"),
        ("hajur", "unknown"),  # a polite "yes?" is no yes (issue 16)
        ("thik cha", "confirm"), ("हो", "confirm"), ("हुन्छ", "confirm"), ("confirm", "confirm"), ("👍", "confirm"),
        ("no", "decline"), ("n", "decline"), ("hoina", "decline"), ("cancel draft", "decline"),
        ("होइन", "decline"), ("नाई", "decline"),
        ("status", "status"), ("mero order kaha pugyo?", "status"),
        ("cancel", "cancel"), ("order cancel garnus", "cancel"),
        ("balance", "balance"), ("hisab", "balance"), ("khata", "balance"), ("baki kati cha", "balance"),
        ("हिसाब", "balance"), ("बाँकी", "balance"),
        ("help", "help"), ("?", "help"), ("menu", "help"),
        ("namaste", "greeting"), ("hi", "greeting"), ("hello", "greeting"), ("नमस्ते", "greeting"),
        ("asdfgh", "unknown"), ("", "unknown"), ("   ", "unknown"), ("🙂", "unknown"),
    ],
)
def test_retailer_intents(catalog: Catalog, text: str, intent: str) -> None:
    result = parse(text, catalog)
    assert result.intent == intent
    assert result.items == ()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("english", "en"),
        ("lang en", "en"),
        ("English please", "en"),
        ("nepali", "ne"),
        ("नेपाली", "ne"),
        ("lang ne", "ne"),
    ],
)
def test_language(catalog: Catalog, text: str, language: str) -> None:
    result = parse(text, catalog)
    assert (result.intent, result.language) == ("language", language)


@pytest.mark.parametrize(
    "text", ["cancel TK-7F3K", "cancel tk-7f3k", "Cancel #TK-7F3K please", "TK-7F3K cancel gardinus"]
)
def test_cancel_with_reference(catalog: Catalog, text: str) -> None:
    result = parse(text, catalog)
    assert (result.intent, result.order_ref) == ("cancel", "TK-7F3K")


def test_cancel_alone_has_no_reference(catalog: Catalog) -> None:
    assert parse("cancel", catalog) == Intent("cancel")


# --- wholesaler commands -------------------------------------------------------------------------
W = "wholesaler"


@pytest.mark.parametrize(
    ("text", "price", "days", "delivery"),
    [
        ("OFFER TK-7F3K 5400 tomorrow", "5400", 1, "tomorrow"),
        ("offer tk-7f3k 5,400 today", "5400", 0, "today"),
        ("OFFER TK-7F3K Rs 5400 2 days", "5400", 2, "2 days"),
        ("offer TK-7F3K rs. 8,000 parsi", "8000", 2, "2 days"),
        ("OFFER TK-7F3K 5400 भोलि", "5400", 1, "tomorrow"),
        ("अफर TK-7F3K ५४०० आज", "5400", 0, "today"),
        ("offer TK-7F3K 4,800 dui din ma", "4800", 2, "2 days"),
        ("OFFER TK-7F3K 5400", "5400", None, None),
    ],
)
def test_offer(catalog: Catalog, text: str, price: str, days: int | None, delivery: str | None) -> None:
    result = parse(text, catalog, role=W)
    assert result.intent == "offer" and result.order_ref == "TK-7F3K"
    assert result.price == Decimal(price)
    assert (result.delivery_days, result.delivery) == (days, delivery)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ACCEPT TK-7F3K", "accept"),
        ("PASS TK-7F3K", "pass"),
        ("DISPATCHED TK-7F3K", "dispatched"),
        ("sent TK-7F3K", "dispatched"),
        ("DELIVERED TK-7F3K", "delivered"),
        ("TK-7F3K pugyo", "delivered"),
    ],
)
def test_order_commands(catalog: Catalog, text: str, intent: str) -> None:
    result = parse(text, catalog, role=W)
    assert (result.intent, result.order_ref) == (intent, "TK-7F3K")


@pytest.mark.parametrize(
    ("text", "sku", "quantity"),
    [
        ("STOCK RICE-JEERA 40", "RICE-JEERA", "40"),
        ("stock wai wai 25", "NOODLE-WAIWAI", "25"),
        ("स्टक चिनी २००", "SUGAR", "200"),
        ("stock lux khatam", "SOAP-LUX", "0"),
    ],
)
def test_stock(catalog: Catalog, text: str, sku: str, quantity: str) -> None:
    result = parse(text, catalog, role=W)
    assert result.intent == "stock"
    assert result.stock_quantity == Decimal(quantity)
    assert result.items[0].sku == sku and result.items[0].quantity == Decimal(quantity)


def test_stock_of_a_generic_word_is_ambiguous(catalog: Catalog) -> None:
    result = parse("stock chamal 40", catalog, role=W)
    assert result.intent == "stock" and result.items == ()
    assert set(result.ambiguities[0].candidates) == set(RICE) and result.stock_quantity == Decimal(40)


def test_paid(catalog: Catalog) -> None:
    result = parse("PAID 9841234567 5000 esewa REF123", catalog, role=W)
    assert (result.intent, result.phone, result.amount, result.method, result.reference) == (
        "paid",
        "9841234567",
        Decimal(5000),
        "esewa",
        "REF123",
    )
    other = parse("paid +977-9801122334 1,25,000 cash", catalog, role=W)
    assert (other.phone, other.amount, other.method, other.reference) == ("9801122334", Decimal(125000), "cash", None)


def test_wholesaler_never_gets_retailer_intents(catalog: Catalog) -> None:
    assert parse("2 bora jeera masino", catalog, role=W).intent == "unknown"
    assert parse("hisab", catalog, role=W).intent == "balance"
    assert parse("help", catalog, role=W).intent == "help"
    assert parse("OFFER TK-7F3K 5400", catalog, role="retailer").intent != "offer"


# --- script and output shape ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("जीरा मसिनो चामल २ बोरा", "devanagari"),
        ("हो", "devanagari"),
        ("jeera masino 2 bora", "latin"),
        ("jeera masino २ बोरा", "latin"),  # more Latin letters than Devanagari
        ("चिनी 10 kg", "devanagari"),
        ("", "latin"),
    ],
)
def test_script_detection(catalog: Catalog, text: str, script: str) -> None:
    assert parse(text, catalog).script == script


def test_to_dict_json_shape(catalog: Catalog) -> None:
    result = parse("aadha kg jeera, 2 bora chamal, 3 kg paneer", catalog)
    data = result.to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["intent"] == "order"
    assert data["items"] == [{"sku": "SPICE-JEERA", "quantity": "0.5", "unit": "kg", "matched_text": "jeera"}]
    assert data["ambiguities"] == [{"text": "chamal", "candidates": list(RICE)}]
    assert data["unmatched"] == ["paneer"]
    assert {"order_ref", "price", "delivery_days", "script", "stock_quantity"} <= data.keys()
    offer = parse("offer TK-7F3K 5,400.00 bholi", catalog, role=W).to_dict()
    assert (offer["price"], offer["delivery_days"], offer["order_ref"]) == ("5400", 1, "TK-7F3K")
    assert parse("chini 100 kg", catalog).to_dict()["items"][0]["quantity"] == "100"


def test_results_are_immutable_values(catalog: Catalog) -> None:
    result = parse("chini 2 kg", catalog)
    assert result.intent == "order" and result.items == (ParsedItem("SUGAR", Decimal(2), "kg", "chini"),)
    assert result == parse("chini 2 kg", catalog) and result.why  # deterministic, and says why
    with pytest.raises(FrozenInstanceError):
        result.intent = "unknown"  # type: ignore[misc]
    assert Ambiguity("x", ("A",)) == Ambiguity("x", ("A",))


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02",
        "\ud800 lone surrogate \udfff 2 bora",
        "🙏" * 5000,
        "2 bora jeera masino\n" * 3000,
        "9" * 10000,
        "१" * 500 + " kg chini",
        "1/0 kg chini",
        "\u200d\u200c\u093c\u0901",
        "tk-" * 100,
    ],
)
def test_never_raises_on_odd_input(catalog: Catalog, text: str) -> None:
    result = parse(text, catalog)
    assert isinstance(result, Intent)
    assert all(i.quantity > 0 for i in result.items)
    json.dumps(result.to_dict())
