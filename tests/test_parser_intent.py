"""Order or not, first (issue 16): the kinds of message that used to become false orders, and
quantities that must be refused rather than repaired (issue 13). Pure parser, demo catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsing.parser import Catalog, CatalogEntry, Intent, decimal_str, parse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_csv(ROOT / "db" / "demo" / "products.csv")


def items(result: Intent) -> list[tuple[str, str, str]]:
    return [(i.sku, decimal_str(i.quantity), i.unit) for i in result.items]


# --- 1. questions, complaints and talk are not orders ---------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "hijo ko anda 3 ta futeko thiyo",  # complaint about broken eggs
        "wai wai ko packet sabai bigreko raichha",
        "dhara tel chuheko thiyo, kharab",
        "aaja ta dherai garmi chha, chiya khanu man lagyo",  # chat about the weather and tea
        "ghar ma dhara ko pani aayena aaja",  # tap water at home
        "ma bholi 10 baje pasal aauchhu",  # when they will come to the shop
        "mero naya number 9841234500 ho",  # a new phone number
        "1 carton wai wai ma kati packet hunchha?",  # how many pieces a pack holds
        "basmati chamal ramro chha ki chhaina?",
        "सुर्फ एक्सेल राम्रो छ कि छैन?",
    ],
)
def test_talk_that_names_a_product_is_not_an_order(catalog: Catalog, text: str) -> None:
    result = parse(text, catalog)
    assert result.intent == "unknown", (text, result.intent, result.why)
    assert result.items == ()


@pytest.mark.parametrize(
    ("text", "sku"),
    [
        ("dhara tel ko rate kati ho?", "OIL-DHARA"),
        ("chini ko bhau kati chha aajakal", "SUGAR"),
        ("how much is one bora of basmati?", "RICE-BASMATI"),
        ("5 kg masoor dal ko 800 ho?", "DAL-MASOOR"),
        ("टोकला चियाको मूल्य कति हो?", "TEA-TOKLA"),
    ],
)
def test_a_price_question_is_a_price_intent_naming_the_product(catalog: Catalog, text: str, sku: str) -> None:
    result = parse(text, catalog)
    assert result.intent == "price", (text, result.why)
    assert sku in result.products and result.items == ()


def test_a_polite_question_that_asks_to_send_is_still_an_order(catalog: Catalog) -> None:
    result = parse("2 bora jeera masino pathaidinu hunchha?", catalog)
    assert result.intent == "order" and items(result) == [("RICE-JEERA", "2", "bora")]


# --- 2. words with two meanings --------------------------------------------------------------------
def test_pani_after_a_product_is_also_not_water(catalog: Catalog) -> None:
    assert items(parse("masoor dal 5 kg, chini pani 5 kg", catalog)) == [
        ("DAL-MASOOR", "5", "kg"),
        ("SUGAR", "5", "kg"),
    ]
    # at the head of a line "pani" is still the water
    assert "WATER-1L" in {i.sku for i in parse("chini 5 kg\npani bottle 2 case", catalog).items}
    # a catalog where "pani" alone is the water: after a product it is still "also"
    small = Catalog(
        [
            CatalogEntry("SUGAR", "Sugar", None, ("chini",), "kg"),
            CatalogEntry("DAL", "Dal", None, ("dal",), "kg"),
            CatalogEntry("WATER", "Water", None, ("pani",), "case"),
        ]
    )
    assert items(parse("chini 2 kg, dal pani 2 kg", small)) == [("SUGAR", "2", "kg"), ("DAL", "2", "kg")]
    assert items(parse("chini 2 kg, pani 3 case", small)) == [("SUGAR", "2", "kg"), ("WATER", "3", "case")]


def test_baki_as_the_rest_is_not_the_balance(catalog: Catalog) -> None:
    assert parse("mero baki kati bhayo?", catalog).intent == "balance"
    assert parse("baki saman bholi pathaunu", catalog).intent != "balance"


def test_an_english_word_is_not_fuzzy_read_as_a_product(catalog: Catalog) -> None:
    result = parse("the weather is nice today, good morning", catalog)
    assert result.intent in ("greeting", "unknown") and result.items == () and not result.ambiguities


# --- 3. negation -------------------------------------------------------------------------------------
def test_a_negated_item_is_not_an_item(catalog: Catalog) -> None:
    result = parse("jeera masino 1 bora pathaunu, chini chaidaina", catalog)
    assert result.intent == "order" and items(result) == [("RICE-JEERA", "1", "bora")]
    result = parse("2 kg masoor dal, tara moong dal napathaunu", catalog)
    assert items(result) == [("DAL-MASOOR", "2", "kg")]
    assert parse("chini nachahine", catalog).items == ()


# --- 4. distributive quantities -------------------------------------------------------------------
def test_each_quantity_goes_to_every_product(catalog: Catalog) -> None:
    result = parse("chini ra masoor dal dubai 3-3 kg", catalog)
    assert sorted(items(result)) == [("DAL-MASOOR", "3", "kg"), ("SUGAR", "3", "kg")]
    result = parse("wai wai, rara 2/2 carton", catalog)
    assert sorted(items(result)) == [("NOODLE-RARA", "2", "carton"), ("NOODLE-WAIWAI", "2", "carton")]
    both = [("DAL-MASOOR", "2", "kg"), ("SUGAR", "2", "kg")]
    for text in (
        "chini masoor dal 2 2 kg",
        "chini ra masoor dal dui dui kg",
        "2 kg each of chini and masoor dal",
        "chini ra masoor dal, each 2 kg",
    ):
        assert sorted(items(parse(text, catalog))) == both, text


# --- 5. list markers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "1- chini 4 kg\n2- nun 6 packet",
        "a) chini 4 kg\nb) nun 6 packet",
        "1\ufe0f\u20e3 chini 4 kg\n2\ufe0f\u20e3 nun 6 packet",
        "• chini 4 kg\n• nun 6 packet",
        "\u2705 chini 4 kg\n\u2705 nun 6 packet",
        "1) chini 4 kg 2) nun 6 packet",
    ],
)
def test_list_markers_are_not_quantities(catalog: Catalog, text: str) -> None:
    result = parse(text, catalog)
    assert result.intent == "order" and items(result) == [("SUGAR", "4", "kg"), ("SALT", "6", "packet")], text


# --- 7. a polite हजुर is not a yes -------------------------------------------------------------------
def test_a_devanagari_greeting_is_not_a_confirmation(catalog: Catalog) -> None:
    assert parse("नमस्ते हजुर", catalog).intent == "greeting"
    assert parse("हजुर", catalog).intent != "confirm"
    assert parse("हो हजुर", catalog).intent == "confirm"


# --- 8. help, status and balance in sentences -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what can you do for my shop?", "help"),
        ("yo app kasari chalaune?", "help"),
        ("where is my delivery?", "status"),
        ("mero saman kahile aaunchha?", "status"),
        ("how much credit do I have left", "balance"),
        ("मेरो उधारो कति बाँकी छ?", "balance"),
        ("what is thok", "help"),
        ("जय नेपाल", "greeting"),
        ("hello how are you", "greeting"),
        ("aaja aaucha ki nai", "status"),
        ("when will it arrive?", "status"),
        ("haan", "confirm"),
        ("bhayo pardaina", "decline"),
        ("pichhle baar jaisa bhej do", "reorder"),
        ("aaja kati garmi, 35 degree pugyo hola", "unknown"),
    ],
)
def test_natural_sentences(catalog: Catalog, text: str, intent: str) -> None:
    assert parse(text, catalog).intent == intent, (text, parse(text, catalog).why)


# --- 9. cancel by description, reorder ---------------------------------------------------------------
def test_cancel_by_describing_the_order(catalog: Catalog) -> None:
    result = parse("the dhara oil order, remove it please", catalog)
    assert result.intent == "cancel" and result.products == ("OIL-DHARA",)
    assert parse("cancel", catalog).products == ()


@pytest.mark.parametrize(
    "text",
    ["same as last time please", "aghi ko order feri pathaunu", "pahile jastai pathaidinu", "उही अघिको जस्तै पठाउनु"],
)
def test_reorder(catalog: Catalog, text: str) -> None:
    assert parse(text, catalog).intent == "reorder", (text, parse(text, catalog).why)


# --- quantities stay sane (issue 13) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason", "written"),
    [
        ("-5 kg masoor dal", "negative", "-5 kg"),
        ("masoor dal 1e308 kg", "not_plain", "1e308 kg"),
        ("masoor dal 99999999999999999 kg", "too_large", "99999999999999999 kg"),
        ("0 kg masoor dal", "zero", "0 kg"),
        ("masoor dal 2.5.1 kg", "not_plain", "2.5.1 kg"),
        ("5000 bora jeera masino", "too_large", "5000 bora"),
        ("masoor dal 20000 kg", "too_large", "20000 kg"),
    ],
)
def test_bad_quantities_are_refused_never_changed(catalog: Catalog, text: str, reason: str, written: str) -> None:
    result = parse(text, catalog)
    assert result.intent == "order" and result.items == (), (text, result)
    assert [(b.text, b.reason) for b in result.bad_quantities] == [(written, reason)]


def test_sane_quantities_still_pass(catalog: Catalog) -> None:
    assert items(parse("masoor dal 999 kg", catalog)) == [("DAL-MASOOR", "999", "kg")]
    assert items(parse("chini 2 kg 9841234567", catalog)) == [("SUGAR", "2", "kg")]  # a phone, not a quantity
    dashed = parse("-2 kg chini\n-5 packet nun", catalog)  # dashes as bullets in a list
    assert items(dashed) == [("SUGAR", "2", "kg"), ("SALT", "5", "packet")]


def test_why_is_reported(catalog: Catalog) -> None:
    why = parse("2 bora jeera masino pathaunu", catalog).to_dict()["why"]
    assert any("pathaunu" in w for w in why) and any("2 bora" in w for w in why)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("TK-AB12 pathaidiye", "dispatched"), ("TK-AB12 पठाइसकें", "dispatched"), ("TK-AB12 pugaidiye", "delivered")],
)
def test_wholesaler_words_for_sent_and_delivered(catalog: Catalog, text: str, intent: str) -> None:
    assert parse(text, catalog, "wholesaler").intent == intent
