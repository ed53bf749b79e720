"""`order`: parse → keep every clear line in the draft → ask only about what is unclear → ask for YES.

Nothing is ordered on a guess, and nothing the shopkeeper wrote is lost: a word that names several
products becomes a numbered question (the clear lines wait in the draft meanwhile), an unknown word
or a unit the product is not sold in is named back, and a second order message adds to the pending
draft unless it says "new" / "naya".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from db.models import Product
from domain.catalog import CatalogProduct, best_prices, to_product_unit
from domain.drafts import ASKED_CHOICE, ASKED_CONFIRM, Draft, DraftLine, Question, load_draft, mark_asked, save_draft
from handlers import Choice, Reply, choices
from handlers.context import Context
from parsing.commands import Choose, PlaceOrder
from parsing.parser import Ambiguity, ParsedItem, parse
from parsing.text import clean

# Words that start a new draft instead of adding to the pending one.
REPLACE_WORDS = frozenset({"new", "naya", "nayaa", "replace", "नयाँ", "नया"})
MAX_CHOICES = 9  # WhatsApp lists hold 10 rows; one digit per choice keeps the text answer easy
# Ordinals people answer a numbered question with, besides the digits.
ORDINALS = {
    "first": 1, "pahilo": 1, "pahelo": 1, "पहिलो": 1,
    "second": 2, "dosro": 2, "dusro": 2, "दोस्रो": 2,
    "third": 3, "tesro": 3, "teshro": 3, "तेस्रो": 3,
    "fourth": 4, "chautho": 4, "चौथो": 4,
    "fifth": 5, "pachau": 5, "panchau": 5, "पाँचौं": 5, "पाँचौँ": 5,
}  # fmt: skip
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_WORD = re.compile(r"[^\s.,;:!?()\"'#]+")


def name_for(ctx: Context, product: Product | CatalogProduct) -> str:
    return (product.name_ne or product.name) if ctx.lang == "ne" else product.name


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def choice_number(text: str) -> int | None:
    """ "2", "२", "2.", "no 2", "pahilo", "दोस्रो" → the number chosen; None if the text is not a choice."""
    words = [w for w in _words(text.translate(_DIGITS)) if w not in ("no", "number", "num", "option", "नम्बर")]
    if len(words) != 1:
        return None
    word = words[0]
    if word.isdigit() and 0 < int(word) <= MAX_CHOICES:
        return int(word)
    return ORDINALS.get(word)


def handle(ctx: Context, command: PlaceOrder) -> list[Reply]:
    assert ctx.retailer_id is not None
    now = datetime.now(UTC)
    draft = load_draft(ctx.session, ctx.retailer_id, lock=True)
    replacing = bool(REPLACE_WORDS & set(_words(ctx.message)))
    adding = draft is not None and not draft.expired(now) and not replacing and bool(draft.lines or draft.questions)
    if not adding or draft is None:
        draft = Draft()
    notes: list[str] = []
    items = list(command.items)
    # "basmati" alone, while we asked which "chamal": that is the answer, at the quantity asked about.
    answers = len(items) == 1 and not command.ambiguities
    if draft.questions and answers and items[0].sku in draft.questions[0].candidates:
        question = draft.questions.pop(0)
        items = [ParsedItem(items[0].sku, question.quantity, question.unit or "", question.text)]
        adding = False  # an answer, not more items
    skus = {i.sku for i in items} | {c for a in command.ambiguities for c in a.candidates}
    products = ctx.products(skus)
    notes += add_items(ctx, draft, items, products)
    for amb in command.ambiguities:
        draft.questions.append(_question(ctx, amb))
    for word in command.unmatched:
        if word.lower() not in REPLACE_WORDS:
            notes.append(ctx.text("ask_unmatched", text=word, suggestion=""))
    return [present(ctx, draft, notes, added=adding)]


def choose(ctx: Context, command: Choose) -> list[Reply]:
    """ "2" / "dosro" in answer to a numbered question about the draft."""
    assert ctx.retailer_id is not None
    draft = load_draft(ctx.session, ctx.retailer_id, lock=True)
    number = choice_number(ctx.message)
    if draft is None or draft.expired(datetime.now(UTC)) or not draft.questions or number is None:
        return [ctx.reply("nothing_to_choose")]
    question = draft.questions[0]
    options = question.candidates[:MAX_CHOICES]
    if number > len(options):
        return [present(ctx, draft, [ctx.text("choice_out_of_range", count=ctx.qty(Decimal(len(options))))])]
    draft.questions.pop(0)
    chosen = ParsedItem(options[number - 1], question.quantity, question.unit or "", question.text)
    notes = add_items(ctx, draft, [chosen], ctx.products({chosen.sku}))
    return [present(ctx, draft, notes)]


def add_items(
    ctx: Context, draft: Draft, items: list[ParsedItem], products: Mapping[str, Product | CatalogProduct]
) -> list[str]:
    """Put each item in the draft, in the product's unit at today's best price; what cannot go in
    is named back (the notes), the rest goes in anyway."""
    notes: list[str] = []
    wanted: list[tuple[Product | CatalogProduct, Decimal, str]] = []
    for item in items:
        product = products[item.sku]
        pack = (product.pack_size, product.pack_unit) if product.pack_size and product.pack_unit else None
        written = item.unit or product.unit
        quantity = to_product_unit(item.quantity, written, product.unit, pack)
        if quantity is None or quantity <= 0:
            notes.append(ctx.text("unit_mismatch", name=name_for(ctx, product), unit=ctx.unit(product.unit)))
            continue
        if written != product.unit:  # "5 kg" of a 1 kg packet: say it became 5 packets (issue 16)
            notes.append(
                ctx.text(
                    "unit_converted",
                    written=f"{ctx.qty(item.quantity)} {ctx.unit(written)}",
                    quantity=f"{ctx.qty(quantity)} {ctx.unit(product.unit)}",
                    name=name_for(ctx, product),
                )
            )
        wanted.append((product, quantity, item.matched_text))
    prices = best_prices(ctx.session, [p.id for p, _, _ in wanted])
    for product, quantity, raw in wanted:
        if product.id not in prices:
            notes.append(ctx.text("not_available", name=name_for(ctx, product)))
            continue
        name = name_for(ctx, product)
        draft.add(DraftLine(product.id, product.sku, name, quantity, product.unit, prices[product.id], raw))
    return notes


def _question(ctx: Context, amb: Ambiguity) -> Question:
    """The quantity and unit written with an unclear word: the parser names the word, so read the
    message again with the first candidate's own name in its place. Products sold in the unit
    written ("5 litre tel": the litre oils, not the bottled one) are offered first."""
    products = ctx.products(amb.candidates)
    first = products.get(amb.candidates[0])
    text = clean(ctx.message)
    quantity, unit = Decimal(1), None
    if first is not None and amb.text in text:
        again = parse(text.replace(amb.text, first.name, 1), ctx.parser_catalog())
        found = [item for item in again.items if item.sku == first.sku]
        if found:
            quantity, unit = found[0].quantity, found[0].unit
    known = [sku for sku in amb.candidates if sku in products]
    if unit is not None:
        fits = {sku for sku in known if to_product_unit(quantity, unit, products[sku].unit) is not None}
        known.sort(key=lambda sku: sku not in fits)  # stable: the parser's order within each group
    return Question(amb.text, tuple(known), quantity, unit)


def lines_text(ctx: Context, draft: Draft) -> str:
    return "\n".join(
        ctx.text(
            "order_line",
            quantity=ctx.qty(ln.quantity),
            unit=ctx.unit(ln.unit),
            name=ln.name,
            amount=ctx.money(ln.amount),
        )
        for ln in draft.lines
    )


def question_text(ctx: Context, question: Question) -> str:
    products = ctx.products(set(question.candidates))
    options = "\n".join(
        ctx.text("choice_option", n=ctx.qty(Decimal(n)), name=name_for(ctx, products[sku]))
        for n, sku in enumerate((s for s in question.candidates[:MAX_CHOICES] if s in products), start=1)
    )
    unit = ctx.unit(question.unit) if question.unit else ""
    amount = f"{ctx.qty(question.quantity)} {unit}".strip()
    return ctx.text("ask_choice", text=question.text, quantity=amount, options=options)


def present(ctx: Context, draft: Draft, notes: list[str], *, added: bool = False) -> Reply:
    """The draft as it now stands, saved: what was added, what could not be, and the one question
    the retailer answers next (which product, or YES)."""
    assert ctx.retailer_id is not None
    parts = [ctx.text("draft_added")] if added else []
    parts += notes
    if draft.questions:
        if draft.lines:
            parts.append(ctx.text("draft_so_far", lines=lines_text(ctx, draft), total=ctx.money(draft.total)))
        parts.append(question_text(ctx, draft.questions[0]))
        mark_asked(draft, ASKED_CHOICE)
    elif draft.lines:
        parts.append(ctx.text("order_summary", lines=lines_text(ctx, draft), total=ctx.money(draft.total)))
        mark_asked(draft, ASKED_CONFIRM)
    if draft.lines or draft.questions:
        save_draft(ctx.session, ctx.retailer_id, draft, ctx.settings.draft_ttl_seconds)
    return replace(ctx.compose(parts), choices=_choices(ctx, draft))


def _choices(ctx: Context, draft: Draft) -> tuple[Choice, ...]:
    """The same answers as the text, to tap: the products of the question asked, or the summary's
    confirm / change / cancel."""
    if draft.questions:
        question = draft.questions[0]
        products = ctx.products(set(question.candidates))
        known = [s for s in question.candidates[:MAX_CHOICES] if s in products]
        return choices.rows([name_for(ctx, products[sku]) for sku in known])
    return choices.summary(ctx.lang) if draft.lines else ()
