"""Pure parser for WhatsApp messages from retailers (kirana shops) and wholesalers.

No database, no network: `parse(text, catalog, role)` turns one message into an `Intent`.
It never raises; anything unexpected gives `Intent("unknown")`.

    catalog = Catalog.from_csv("db/demo/products.csv")   # build once, reuse for every message
    parse("Namaste dai, 2 bora jeera masino pathaunu hola 🙏", catalog)
    -> Intent(intent="order", items=(ParsedItem("RICE-JEERA", Decimal("2"), "bora", "jeera masino"),))

Understood: English, romanised Nepali and Devanagari (mixed freely), ASCII and Devanagari digits,
number words and halves (aadha, dedh, adhai, sadhe/sawa/paune N), every spelling of the units in
`parsing.lexicon.UNIT_WORDS`, several items per message, quantity before or after the product,
list markers, emoji and politeness. Products are matched longest-alias-first, then phonetically,
then by rapidfuzz; generic words ("chamal", "tel") and close fuzzy scores give an `Ambiguity`
instead of a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from parsing import lexicon as lx
from parsing.catalog import Catalog, CatalogEntry
from parsing.orders import OrderLines, parse_order, prepare
from parsing.text import clean, detect_script, lower, tokenize

__all__ = ["Ambiguity", "BadQuantity", "Catalog", "CatalogEntry", "Intent", "ParsedItem", "parse", "decimal_str"]

INTENTS = (
    "order", "confirm", "decline", "status", "cancel", "balance", "help", "greeting", "language", "unknown",
    "offer", "accept", "pass", "stock", "paid", "dispatched", "delivered", "price", "reorder",
)  # fmt: skip
RETAILER_ONLY = frozenset({"order", "confirm", "decline", "cancel", "price", "reorder"})


def decimal_str(value: Decimal) -> str:
    """2 -> "2", 0.50 -> "0.5", 1E+2 -> "100"."""
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True)
class ParsedItem:
    sku: str
    quantity: Decimal
    unit: str
    matched_text: str


@dataclass(frozen=True)
class Ambiguity:
    text: str
    candidates: tuple[str, ...]  # candidate SKUs, best first


@dataclass(frozen=True)
class BadQuantity:
    """A quantity the parser refused to use (never repaired): the reply quotes it and asks."""

    text: str  # the quantity as written: "-5 kg", "1e308", "5000 bora"
    reason: str  # zero | negative | too_large | not_plain
    sku: str | None = None
    matched_text: str = ""


@dataclass(frozen=True)
class Intent:
    intent: str
    items: tuple[ParsedItem, ...] = ()
    ambiguities: tuple[Ambiguity, ...] = ()
    unmatched: tuple[str, ...] = ()
    order_ref: str | None = None
    price: Decimal | None = None
    delivery: str | None = None
    delivery_days: int | None = None
    language: str | None = None
    script: str = "latin"
    phone: str | None = None
    amount: Decimal | None = None
    method: str | None = None
    reference: str | None = None
    stock_quantity: Decimal | None = None
    products: tuple[str, ...] = ()  # price and cancel: the products the message is about
    bad_quantities: tuple[BadQuantity, ...] = ()  # order: quantities refused; no item is made of them
    why: tuple[str, ...] = ()  # what decided the intent, for `thok parse --json`

    def to_dict(self) -> dict[str, Any]:
        def dec(v: Decimal | None) -> str | None:
            return None if v is None else decimal_str(v)

        return {
            "intent": self.intent,
            "items": [
                {"sku": i.sku, "quantity": decimal_str(i.quantity), "unit": i.unit, "matched_text": i.matched_text}
                for i in self.items
            ],
            "ambiguities": [{"text": a.text, "candidates": list(a.candidates)} for a in self.ambiguities],
            "unmatched": list(self.unmatched),
            "order_ref": self.order_ref,
            "price": dec(self.price),
            "delivery": self.delivery,
            "delivery_days": self.delivery_days,
            "language": self.language,
            "script": self.script,
            "phone": self.phone,
            "amount": dec(self.amount),
            "method": self.method,
            "reference": self.reference,
            "stock_quantity": dec(self.stock_quantity),
            "products": list(self.products),
            "bad_quantities": [
                {"text": b.text, "reason": b.reason, "sku": b.sku, "matched_text": b.matched_text}
                for b in self.bad_quantities
            ],
            "why": list(self.why),
        }


# --- message-level helpers ----------------------------------------------------------------------
_REF = re.compile(r"(?<![a-z0-9])#?tk([-_ ]?)([a-z0-9]{4,6})(?![a-z0-9])")
_PHONE = re.compile(r"(?<![0-9])(?:\+?977[\s-]?)?(9[678](?:[\s-]?[0-9]){8})(?![0-9])")
_OK_EMOJI = ("👍", "👌", "✅", "✔", "☑", "🆗")
_NO_EMOJI = ("👎", "❌", "✖", "🚫", "🙅")
_PUNCT_STRIP = ".,;:!?()[]{}\"'`#*-_/\\"


def _find_ref(low: str) -> tuple[str | None, str]:
    """The order reference (upper case) and the text with it blanked out (offsets kept)."""
    for m in _REF.finditer(low):
        sep, body = m.group(1), m.group(2)
        if sep in ("", " ") and not any(c.isdigit() for c in body):
            continue
        blanked = low[: m.start()] + " " * (m.end() - m.start()) + low[m.end() :]
        return f"TK-{body.upper()}", blanked
    return None, low


def _word_keys(low: str) -> list[str]:
    return [t.key for t in tokenize(low) if t.kind in ("w", "n")]


_STRETCHED = re.compile(r"(.)\1{2,}")


def _unstretched(keys: list[str]) -> list[str]:
    """ "naaa", "yesss", "hooo": a letter held for feeling is one letter, unless the word is known."""
    out = []
    for k in keys:
        if k not in lx.INTENT_PHRASES and _STRETCHED.search(k):
            two = _STRETCHED.sub(r"\1\1", k)  # "naaa" -> "naa" (no), else "yesss" -> "yes"
            k = two if two in lx.INTENT_PHRASES else _STRETCHED.sub(r"\1", k)
        out.append(k)
    return out


def _labels(keys: list[str]) -> list[tuple[str | None, int]]:
    """Greedy phrase labelling: [(label or None, token count)]."""
    out: list[tuple[str | None, int]] = []
    keys = _unstretched(keys)
    i, n = 0, len(keys)
    while i < n:
        for size in range(min(lx.INTENT_PHRASE_MAX, n - i), 0, -1):
            joined = "".join(keys[i : i + size])
            label = lx.INTENT_PHRASES.get(joined)
            if label is not None and size > 1:
                cuts = {sum(len(k) for k in keys[i : i + m + 1]) for m in range(size - 1)}
                if not any(set(c) <= cuts for c in lx.INTENT_PHRASE_CUTS[joined]):
                    label = None  # the words meet elsewhere than the phrase's: "ko k" is not "k ok"
            if label is not None:
                out.append((label, size))
                i += size
                break
        else:
            k = keys[i]
            neutral = k in lx.FILLER or (len(k) >= 4 and k.startswith(lx.FILLER_PREFIXES))
            out.append(("filler" if neutral else None, 1))
            i += 1
    return out


def _core_intent(labels: list[str | None]) -> tuple[str, str | None] | None:
    """When every word of the message is a command/keyword word: (intent, language)."""
    if not labels or any(lb is None for lb in labels):
        return None
    found = {lb for lb in labels if lb is not None and lb != "filler"}
    if not found:
        return None
    if "lang_en" in found or "lang_ne" in found:
        if "lang_en" in found and "lang_ne" in found:
            return None
        if found - {"lang_en", "lang_ne", "lang", "greeting", "confirm"}:
            return None
        return "language", ("en" if "lang_en" in found else "ne")
    if found == {"lang"}:
        return "language", None
    main = found - {"greeting", "lang"}
    if not main:
        return "greeting", None
    for p in ("cancel", "status", "balance", "help"):
        if p in main:
            return p, None
    if main == {"confirm"} or main == {"decline"}:
        return main.pop(), None
    return None


def _keyword_intent(keys: list[str], labels: list[str | None], has_ref: bool) -> tuple[str, str | None] | None:
    kset = set(keys)
    if kset & lx.CANCEL_WORDS:
        return ("decline" if kset & lx.DRAFT_WORDS else "cancel"), None
    if kset & lx.BALANCE_WORDS:
        return "balance", None
    if kset & lx.STATUS_STRONG:
        return "status", None
    if kset & lx.STATUS_WEAK and (has_ref or kset & lx.ORDER_WORDS or len(keys) <= 3):
        return "status", None
    if any(sentence <= kset for sentence in lx.STATUS_SENTENCES):
        return "status", None
    if kset & lx.HELP_WORDS or (kset & lx.HOWTO_WORDS and kset & lx.ORDER_WORDS):
        return "help", None
    if kset & lx.LANG_CUE_WORDS:
        en, ne = bool(kset & lx.LANG_EN_WORDS), bool(kset & lx.LANG_NE_WORDS)
        if en != ne:
            return "language", ("en" if en else "ne")
    meaningful = [lb for lb in labels if lb != "filler"]
    unknown_words = sum(1 for lb in labels if lb is None)
    # "ok dai pachi kura garaula", "sahuji lai mero namaste bhannu hai": talk that starts politely
    if meaningful and meaningful[0] in ("confirm", "decline") and unknown_words <= 1:
        return meaningful[0], None
    # "pardaina, pachi bhanchhu", "good morning, have a nice day", "thank you dai, saman ramro thiyo":
    # a no or a greeting with only talk after it (no number, nothing asked for)
    chat_only = _chat_only(keys, labels)
    if meaningful and meaningful[0] == "decline" and chat_only:
        return "decline", None
    if meaningful and meaningful[0] == "greeting" and not any(k.isdigit() for k in keys) and unknown_words == 0:
        return "greeting", None
    if (
        meaningful
        and meaningful[0] == "greeting"
        and chat_only
        and not _first(keys, lx.ORDER_VERBS, lx.ORDER_VERB_PREFIXES)
    ):
        return "greeting", None
    return None


def _chat_only(keys: list[str], labels: list[str | None]) -> bool:
    """No number and no word beyond keywords, talk and everyday words (nothing that could be a product)."""
    return not any(k.isdigit() for k in keys) and all(
        lb is not None
        or k in lx.NOT_PRODUCT_WORDS
        or k in lx.ORDER_WORDS
        or k in lx.DRAFT_WORDS
        or k.startswith(lx.NEGATION_PREFIXES)
        for k, lb in zip(keys, labels, strict=False)
    )


def _emoji_keys(text: str) -> list[str]:
    extra: list[str] = []
    if any(e in text for e in _OK_EMOJI):
        extra.append("ok")
    if any(e in text for e in _NO_EMOJI):
        extra.append("no")
    return extra


def _to_decimal(raw: str) -> Decimal | None:
    try:
        v = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    return v if v.is_finite() else None


# --- wholesaler ---------------------------------------------------------------------------------
def _numbers_with_next(low: str) -> list[tuple[Decimal, str, str]]:
    """(value, next word key, previous word key) for every number in the text."""
    toks = [t for t in tokenize(low) if t.kind in ("w", "n")]
    out: list[tuple[Decimal, str, str]] = []
    for n, t in enumerate(toks):
        value: Decimal | None
        if t.kind == "n":
            value = _to_decimal(t.key) if "/" not in t.key else None
        else:
            value = lx.NUMBER_WORDS.get(t.key)
            if value is None or t.key in lx.HALF_WORDS:
                continue
        if value is None:
            continue
        nxt = toks[n + 1].key if n + 1 < len(toks) else ""
        prev = toks[n - 1].key if n > 0 else ""
        if nxt == "k" and t.kind == "n":
            value = value * 1000
            nxt = toks[n + 2].key if n + 2 < len(toks) else ""
        out.append((value, nxt, prev))
    return out


def _offer(low: str, keys: list[str]) -> dict[str, Any]:
    price: Decimal | None = None
    days: int | None = None
    for value, nxt, prev in _numbers_with_next(low):
        if nxt in lx.DAY_WORDS and value == value.to_integral_value() and 0 <= value <= 60:
            days = int(value)
        elif price is None and value > 0 and prev not in lx.DAY_WORDS and value >= 1:
            price = value
    if days is None:
        for n, k in enumerate(keys):
            if k in lx.DELIVERY_DAYS:
                days = lx.DELIVERY_DAYS[k]
                if days == 1 and n > 0 and keys[n - 1] == "after":
                    days = 2
                break
    delivery = None
    if days is not None:
        delivery = "today" if days == 0 else "tomorrow" if days == 1 else f"{days} days"
    return {"price": price, "delivery": delivery, "delivery_days": days}


def _paid(cleaned: str, low: str) -> dict[str, Any]:
    phone = None
    m = _PHONE.search(low)
    if m:
        phone = re.sub(r"[^0-9]", "", m.group(1))
        low = low[: m.start()] + " " * (m.end() - m.start()) + low[m.end() :]
        cleaned = cleaned[: m.start()] + " " * (m.end() - m.start()) + cleaned[m.end() :]
    amount = None
    for value, _nxt, _prev in _numbers_with_next(low):
        if value > 0:
            amount = value
            break
    method = None
    reference = None
    words = cleaned.split()
    after_method = False
    for n, raw in enumerate(words):
        w = raw.strip(_PUNCT_STRIP)
        key = w.lower()
        if not w:
            continue
        head = re.split(r"[:#=]", key, maxsplit=1)[0]
        if head in lx.REFERENCE_CUES:
            rest = re.split(r"[:#=]", w, maxsplit=1)
            if len(rest) > 1 and rest[1].strip(_PUNCT_STRIP):
                reference = rest[1].strip(_PUNCT_STRIP)
            elif n + 1 < len(words):
                reference = words[n + 1].strip(_PUNCT_STRIP) or None
            break
        if method is None and key in lx.PAYMENT_METHODS:
            method = lx.PAYMENT_METHODS[key]
            after_method = True
            continue
        if key in lx.WHOLESALER_COMMANDS or key in lx.CURRENCY_WORDS or key in lx.FILLER:
            continue
        if after_method and reference is None and _to_decimal(w) is None:
            reference = w
            break
        if reference is None and any(c.isdigit() for c in w) and any(c.isalpha() for c in w):
            reference = w
    return {"phone": phone, "amount": amount, "method": method, "reference": reference}


def _stock(low: str, original: str, keys: list[str], catalog: Catalog) -> dict[str, Any]:
    lines = parse_order(low, original, catalog)
    quantity: Decimal | None = None
    if lines.items and lines.items[0].explicit:
        quantity = lines.items[0].quantity
    elif set(keys) & lx.STOCK_OUT_WORDS:
        quantity = Decimal(0)
    else:
        for value, _nxt, _prev in reversed(_numbers_with_next(low)):
            if value >= 0:
                quantity = value
                break
    items: tuple[ParsedItem, ...] = ()
    zero = [r for r in lines.refused if r.reason == "zero" and r.sku]
    if not lines.items and zero:  # "stock wai wai 0": out of stock is a stock level, not a bad order line
        unit = zero[0].unit or catalog.unit_of(zero[0].sku or "")
        items = (ParsedItem(zero[0].sku or "", Decimal(0), unit, zero[0].matched_text),)
        return {"items": items, "ambiguities": (), "unmatched": (), "stock_quantity": Decimal(0)}
    if lines.items and quantity is not None:
        it = lines.items[0]
        items = (ParsedItem(it.sku, quantity, it.unit, it.matched_text),)
    elif lines.items:
        it = lines.items[0]
        items = (ParsedItem(it.sku, it.quantity, it.unit, it.matched_text),)
    return {
        "items": items,
        "ambiguities": tuple(Ambiguity(a.text, a.candidates) for a in lines.ambiguities[:1]) if not items else (),
        "unmatched": tuple(lines.unmatched) if not items and not lines.ambiguities else (),
        "stock_quantity": quantity,
    }


_SEND_ALL = frozenset({"it", "all", "sabai", "sab", "sabbai", "सबै", "them", "now", "ahile", "aaile"})
_DELIVERY_NOUNS = frozenset({"delivery", "delivary", "डेलिभरी"})
_DONE_WORDS = frozenset({"bhayo", "bhaisakyo", "gariyo", "garyo", "gare", "garisake", "भयो", "भइसक्यो", "गरियो"})


def _wholesaler(
    cleaned: str, low: str, keys: list[str], labels: list[str | None], ref: str | None, catalog: Catalog
) -> dict[str, Any] | None:
    command = None
    for k in keys:
        c = lx.WHOLESALER_COMMANDS.get(k)
        if c is None or (c == "stock" and ref is not None) or (c == "pass" and ref is None and k != "pass"):
            continue
        if c == "paid" and ref is not None:
            continue
        command = c
        break
    if command in ("dispatched", "delivered") and ref is None and "?" in cleaned:
        command = None  # "truck hidyo ki?": a question about a truck, not a report of one order
    kset = set(keys)
    if command is None and ref is not None and kset & _DELIVERY_NOUNS and kset & _DONE_WORDS:
        command = "delivered"  # "TK-4K8M ko delivery bhayo"
    meaningful = [lb for lb in labels if lb not in (None, "filler")]
    if command is None and ref is not None:
        if meaningful and meaningful[0] == "confirm":
            command = "accept"
        elif meaningful and meaningful[0] in ("decline", "cancel"):
            command = "pass"
        elif any(v > 0 for v, _n, _p in _numbers_with_next(low)):
            command = "offer"
    if command is None:
        return None
    if command == "offer":
        return {"intent": "offer", **_offer(low, keys)}
    if command == "paid":
        return {"intent": "paid", **_paid(cleaned, low)}
    if command == "stock":
        body = low
        for t in tokenize(low):
            if t.kind == "w" and lx.WHOLESALER_COMMANDS.get(t.key) == "stock":
                body = low[: t.start] + " " * (t.end - t.start) + low[t.end :]
                break
        return {"intent": "stock", **_stock(body, cleaned, keys, catalog)}
    return {"intent": command}


# --- entry point ----------------------------------------------------------------------------------
def parse(text: str, catalog: Catalog, role: str = "retailer") -> Intent:
    """Parse one WhatsApp message. role: "retailer" or "wholesaler". Never raises."""
    script = "latin"
    try:
        if not isinstance(text, str):
            return Intent("unknown")
        cleaned = clean(text)
        script = detect_script(cleaned)
        return _parse(cleaned, catalog, "wholesaler" if role == "wholesaler" else "retailer", script)
    except Exception:  # noqa: BLE001 - the contract is: never raise on any input
        return Intent("unknown", script=script)


def _parse(cleaned: str, catalog: Catalog, role: str, script: str) -> Intent:
    if not cleaned.strip():
        return Intent("unknown", script=script)
    low = lower(cleaned)
    ref, low = _find_ref(low)
    keys = _word_keys(low)
    labelled = _labels(keys + _emoji_keys(cleaned))
    if len(keys) > 1 and "hajur" in keys:
        # "hajur dai", "hajur, k bhayo?": a polite address, a yes only on its own or with "ho"
        pos, relabelled = 0, []
        for lb, size in labelled:
            relabelled.append(("filler" if keys[pos : pos + size] == ["hajur"] else lb, size))
            pos += size
        labelled = relabelled
    labels: list[str | None] = [lb for lb, _size in labelled]
    if not keys and cleaned.strip().strip("?？ ") == "" and "?" in cleaned:
        return Intent("help", script=script)

    if role == "wholesaler":
        found = _wholesaler(cleaned, low, keys, labels, ref, catalog)
        if found is not None:
            return Intent(order_ref=ref, script=script, **found)

    core = _core_intent(labels) if not (role == "retailer" and set(keys) & lx.PRICE_WORDS) else None
    rest_of_goods = set(keys) & lx.ORDER_WORDS or _first(keys, lx.ORDER_VERBS, lx.ORDER_VERB_PREFIXES)
    if core is not None and core[0] == "balance" and not (set(keys) & lx.BALANCE_WORDS) - lx.BAKI_WORDS:
        core = None if rest_of_goods else core  # "baki saman pathaunu": the rest of the goods, not the khata
    if core is not None and not (role == "wholesaler" and core[0] in RETAILER_ONLY):
        return Intent(core[0], order_ref=ref, language=core[1], script=script)

    keyword = _keyword_intent(keys, labels, ref is not None)
    if keyword is not None and role == "wholesaler" and keyword[0] in RETAILER_ONLY:
        keyword = None

    if role == "retailer":
        return _retailer(cleaned, low, keys, labels, keyword, ref, script, catalog)

    if keyword is not None:
        return Intent(keyword[0], order_ref=ref, language=keyword[1], script=script)
    return Intent("unknown", order_ref=ref, script=script)


# "pathaeko", "pathayo": a verb of ordering in the past ("the 2 you sent ...") asks for nothing
_PAST_ENDINGS = ("eko", "ako", "yeko", "yo", "ekoma", "ekole", "एको", "यो", "ेको", "ायो")


def _first(keys: list[str], words: frozenset[str], prefixes: tuple[str, ...] = ()) -> str | None:
    for k in keys:
        if k in words or (prefixes and len(k) >= 5 and k.startswith(prefixes) and not k.endswith(_PAST_ENDINGS)):
            return k
    return None


_PRICE_BEFORE = lx.CURRENCY_WORDS | frozenset({"ko", "को", "ma", "मा"})
_PRICE_AFTER = lx.CURRENCY_WORDS | frozenset({"ho", "हो", "ma", "मा", "parchha", "parcha", "पर्छ"})


def _price_number(low: str) -> Decimal | None:
    """A sum of money in a question ("10 kg chiura ko 1,200 ho?", "rs 500 ma dinchhau?"): a number
    after "ko"/"rs" or before "ho"/"rupees", with no unit after it."""
    for value, nxt, prev in _numbers_with_next(low):
        if value >= 10 and nxt not in lx.UNIT_WORDS and (prev in _PRICE_BEFORE or nxt in _PRICE_AFTER):
            return value
    return None


def _retailer(
    cleaned: str,
    low: str,
    keys: list[str],
    labels: list[str | None],
    keyword: tuple[str, str | None] | None,
    ref: str | None,
    script: str,
    catalog: Catalog,
) -> Intent:
    """Order or not first: an order needs an ordering signal (a quantity with a unit or right next
    to the product, a verb of ordering, a list); questions, complaints and talk are not orders even
    when they name a product, and anything unsure is asked back (unknown), never guessed."""
    prep = prepare(low)
    lines: OrderLines = parse_order(prep.low, cleaned, catalog, prep)
    talk = lines.talk[0] if lines.talk else None
    kset = set(keys)
    why: list[str] = []
    negation = _first(keys, lx.NEGATION_WORDS, lx.NEGATION_PREFIXES)
    # "pathaunu bhayo" is "you sent" (a past), not "send"
    # "chahincha hola" is "will be needed, maybe" (a guess), while "pathaidinu hola" is a polite request
    requests = [
        k
        for n, k in enumerate(keys)
        if k != negation
        and not (n + 1 < len(keys) and keys[n + 1] in lx.TALK_WORDS)
        and not (keys[n + 1 : n + 2] in (["hola"], ["होला"]) and k.endswith(("cha", "chha", "xa", "छ")))
    ]
    verb = _first(requests, lx.ORDER_VERBS, lx.ORDER_VERB_PREFIXES)
    question_word = _first(keys, lx.QUESTION_WORDS)
    tag_question = any(
        k in ("ki", "कि") and keys[n + 1 : n + 2] in (["nai"], ["hoina"], ["haina"], ["नाइँ"], ["होइन"])
        for n, k in enumerate(keys)
    )  # "aaja aaucha ki nai": ... or not?
    question = "?" in cleaned or "？" in cleaned or question_word is not None or tag_question
    price_word = _first(keys, lx.PRICE_WORDS)
    complaint = _first(keys, lx.COMPLAINT_WORDS)
    repeat = [k for k in keys if k in lx.REPEAT_WORDS]
    strong = [it for it in lines.items if it.strong]
    quantity = bool(strong) or (lines.quantity_seen and bool(lines.ambiguities or lines.unmatched))
    listed = lines.list_lines >= 2
    products = tuple(dict.fromkeys(it.sku for it in lines.items))  # a generic word names no product
    if verb:
        why.append(f"ordering word {verb!r}")
    if strong:
        why.append("quantity " + ", ".join(f"{decimal_str(it.quantity)} {it.unit} {it.matched_text}" for it in strong))
    if listed:
        why.append(f"a list of {lines.list_lines} lines")
    if question:
        why.append(f"question ({question_word or '?'})")
    if lines.negated:
        why.append("not wanted: " + ", ".join(lines.negated))

    def result(intent: str, reason: str, **kw: Any) -> Intent:
        return Intent(intent, order_ref=ref, script=script, why=(*why, reason), **kw)

    # cancel, also by describing the order ("the oil order, remove it", "tel ko order hatau")
    if kset & lx.CANCEL_WORDS or (kset & lx.REMOVE_WORDS and (kset & lx.ORDER_WORDS or products)):
        if kset & lx.DRAFT_WORDS:
            return result("decline", "cancel the draft")
        described = tuple(dict.fromkeys((*products, *lines.negated_skus)))
        return result("cancel", "cancel word", products=described)
    only_baki = keyword is not None and keyword[0] == "balance" and not (kset & lx.BALANCE_WORDS) - lx.BAKI_WORDS
    if only_baki and (verb or lines.found or kset & lx.ORDER_WORDS):
        # "baki saman bholi pathaunu", "baki saman kahile aaucha?": the rest of the goods, not the khata
        rest = [k for k in keys if k not in lx.BAKI_WORDS]
        keyword = _keyword_intent(rest, [lb if lb != "balance" else "filler" for lb in labels], ref is not None)
    sent_back = (
        negation is not None
        and (negation.startswith(lx.NEGATION_PREFIXES) or bool(kset & lx.DRAFT_WORDS))
        and _chat_only(keys, labels)  # "paneer napathaunu" is about paneer: asked, not the draft dropped
    )
    if negation and not lines.found and (kset & lx.ORDER_WORDS or sent_back) and not question:
        # "yo order napathaunu", "sorry, mistake bhayo, napathaunu", "yo draft chahidaina"
        return result("decline", "do not send the order")
    if keyword is not None and keyword[0] in ("confirm", "decline", "greeting") and price_word:
        keyword = None  # "rate kati ho?": the "ho" is in a price question, not a yes
    asks = verb is not None
    # a verb of ordering counts alone only when every other word was understood ("wai wai pathaunu",
    # not "shikhar ko poster pathaidinu")
    ordering = quantity or listed or (asks and lines.loose_words == 0 and not lines.unmatched)
    if (question or talk) and not asks:
        ordering = False  # "2 bora chamal cha?", "pahile 6 pack bechthe": asked or told, not ordered
    if talk:
        why.append(f"talk ({talk!r})")
    if lines.refused and not complaint and not ((question or talk) and not asks):
        bad = tuple(BadQuantity(r.text, r.reason, r.sku, r.matched_text) for r in lines.refused)
        refused = ", ".join(f"{b.text} ({b.reason})" for b in bad)
        return result("order", "quantity refused: " + refused, bad_quantities=bad)
    if complaint and lines.found and not (asks and quantity and not question):
        return result("unknown", f"complaint ({complaint!r})")  # before "pathaunu bhayo" reads as status
    if keyword is not None and not (lines.found and ordering):
        return Intent(keyword[0], order_ref=ref, language=keyword[1], script=script, why=(*why, "keyword"))
    if any(sentence <= kset for sentence in lx.HELP_SENTENCES):
        return result("help", "asks what Thok can do")
    if not lines.found and not kset & lx.PRICE_WORDS and any(sentence <= kset for sentence in lx.BALANCE_SENTENCES):
        return result("balance", "asks what they owe")  # "how much do I have to pay?", "mero bill kati bhayo?"
    if complaint and not (asks and quantity and not question):
        return result("unknown", f"complaint ({complaint!r})")
    pack_question = any(
        k in ("kati", "कति", "how", "what")
        and (
            any(
                a in lx.UNIT_WORDS or a in lx.PACK_QUESTION_WORDS
                for a in keys[n + 1 : n + (3 if keys[n + 1 : n + 2] == ["ko"] else 2)]
            )
            or (n > 0 and keys[n - 1] in lx.MEASURE_WORDS)
        )
        for n, k in enumerate(keys)
    )  # "kati meter", "size kati", "how long", "what size": a measure asked, not a price
    price_word = price_word or next(
        (k + " ma" for n, k in enumerate(keys[:-1]) if k in ("kati", "कति") and keys[n + 1] in ("ma", "मा")), None
    )
    products = tuple(dict.fromkeys((*products, *(r.sku for r in lines.refused if r.sku))))
    how_much = {"how", "much"} <= kset or bool(kset & {"kati", "कति"})
    priced = price_word or (
        question and (products or lines.ambiguities) and (how_much or _price_number(low) is not None)
    )
    explicit_price = _first(keys, lx.PRICE_WORDS)  # "size 2 ko rate kati?" is still a price
    if priced and not (asks and quantity) and (explicit_price or not pack_question):
        return result("price", f"price asked ({price_word or 'how much'})", products=products)
    if pack_question and lines.found:
        return result("unknown", "asks what a pack holds")
    arrival = _first(keys, lx.ARRIVAL_WORDS)
    if arrival and lines.found and question and not asks and not complaint and not lines.refused:
        return result("status", f"asks whether their goods came ({arrival!r})")  # "mero cement aaipugyo ki nai?"
    asked = "?" in cleaned or "？" in cleaned or tag_question
    if (question and kset & lx.ORDER_WORDS or asked and kset & lx.STATUS_WEAK) and not lines.found and not repeat:
        return result("status", "asks about their goods")  # "saman bato ma atkiyo ki?"
    if repeat and not lines.found and (asks or kset & lx.ORDER_WORDS or len(repeat) >= 2):
        return result("reorder", "repeat the last order (" + ", ".join(repeat) + ")")
    if lines.found:
        if ordering:
            return _order_intent(lines, ref, script, why)
        if question:
            return result("unknown", "a question that names a product, not an order")
        if not talk and lines.loose_words == 0 and not lines.unmatched and not lines.negated:
            return _order_intent(lines, ref, script, [*why, "only product names"])
        return result("unknown", "names a product without asking for it")
    if lines.unmatched and lines.quantity_seen and ordering:
        return _order_intent(lines, ref, script, why)
    if repeat and asks:
        return result("reorder", "repeat word with an ordering word")
    money_to = kset & (lx.CURRENCY_WORDS | {"lai", "लाई", "to"})  # "ramesh lai 500 pathaunu": money to someone
    if (
        asks
        and lines.quantity_seen
        and lines.loose
        and not (question or talk or complaint or lines.negated or money_to)
    ):
        # "pani 5 jar pathaunu" where the catalog has no water: an order of something it does not
        # carry, named back, not talk
        unknown = tuple(w for w in lines.loose if any(k not in lx.NOT_PRODUCT_WORDS for k in _word_keys(lower(w))))
        if unknown:
            return Intent("order", order_ref=ref, script=script, unmatched=unknown, why=(*why, "not in the catalog"))
    if (
        asks
        and not question
        and all(
            k == verb or lb == "filler" or lb == "confirm" or k in _SEND_ALL
            for k, lb in zip(keys, labels, strict=False)
        )
    ):
        return result("confirm", "asks to send, naming nothing")  # "pathaunus", "हजुर, पठाइदिनुस्", "send it"
    return result("unknown", "no ordering signal")


def _order_intent(lines: OrderLines, ref: str | None, script: str, why: list[str] | None = None) -> Intent:
    return Intent(
        "order",
        why=(*(why or ()), "order"),
        items=tuple(ParsedItem(i.sku, i.quantity, i.unit, i.matched_text) for i in lines.items),
        ambiguities=tuple(Ambiguity(a.text, a.candidates) for a in lines.ambiguities),
        unmatched=tuple(dict.fromkeys(lines.unmatched)),
        order_ref=ref,
        script=script,
    )
