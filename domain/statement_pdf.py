"""The khata statement as a PDF a shop can forward on WhatsApp: one page per BS month (a long month
runs on), English or Nepali, with Noto Sans (Latin) and Noto Sans Devanagari embedded (subset by
fpdf2 to the glyphs used) so it renders on any phone.

Devanagari needs shaping (conjuncts, the ि matra before its consonant): fpdf2 shapes with HarfBuzz
(uharfbuzz) once `set_text_shaping(True)`; without it the text comes out in code-point order and
reads wrong. Latin runs fall back from the Devanagari face to Noto Sans, which has no Devanagari.

The words on the page are the caller's (`words(key)`, from the message catalog): the domain knows
no language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from domain.calendar import admin_when, bs_date, nepal_now
from domain.money import npr_for
from domain.statements import MonthStatement

FONTS = Path(__file__).parent / "fonts"  # OFL-1.1, see fonts/OFL.txt
WORDS = (
    "pdf_title",
    "pdf_shop",
    "pdf_wholesalers",
    "pdf_period",
    "pdf_opening",
    "pdf_closing",
    "pdf_date",
    "pdf_details",
    "pdf_debit",
    "pdf_credit",
    "pdf_balance",
    "pdf_advance",
    "pdf_totals",
    "pdf_no_entries",
    "pdf_generated",
)
# Column widths (mm) of an A4 page's 180 mm: BS date, details, debit, credit, balance.
WIDTHS = (30, 72, 26, 26, 26)
NEXT_X, NEXT_Y = XPos.LMARGIN, YPos.NEXT  # a cell that ends its line


class _Statement(FPDF):
    def __init__(self, lang: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=15)
        for style, weight in (("", "Regular"), ("B", "Bold")):
            self.add_font("NotoDeva", style, str(FONTS / f"NotoSansDevanagari-{weight}.ttf"))
            self.add_font("NotoLatin", style, str(FONTS / f"NotoSans-{weight}.ttf"))
        # The reader's script is the main face, the other the fallback: a run that falls back
        # and a run that does not next to it in one line is where fpdf2 is least tried.
        self.face, other = ("NotoDeva", "NotoLatin") if lang == "ne" else ("NotoLatin", "NotoDeva")
        self.set_fallback_fonts([other], exact_match=False)
        self.set_text_shaping(True)
        self.set_creator("Thok")


def render_statements(
    statements: Iterable[MonthStatement], lang: str, words: Callable[[str], str], now: datetime | None = None
) -> bytes:
    """A PDF of the months given, each starting its own page."""
    pdf = _Statement(lang)
    generated = now or nepal_now()
    title = words("pdf_title")
    pdf.set_title(title)
    for statement in statements:
        _month_page(pdf, statement, lang, words, generated)
    if pdf.page == 0:
        raise ValueError("a statement needs at least one month")
    return bytes(pdf.output())


def _money(amount: Decimal | None, lang: str) -> str:
    return "" if amount is None else npr_for(amount, lang)


def _balance(amount: Decimal, lang: str, words: Callable[[str], str]) -> str:
    # A negative balance is an advance: the shop's money, used by its next order.
    return npr_for(amount, lang) if amount >= 0 else f"{words('pdf_advance')} {npr_for(-amount, lang)}"


def _month_page(
    pdf: _Statement, s: MonthStatement, lang: str, words: Callable[[str], str], generated: datetime
) -> None:
    pdf.add_page()
    pdf.set_font(pdf.face, "B", 15)
    pdf.cell(0, 9, f"{words('pdf_title')}: {s.month.label(lang)}", new_x=NEXT_X, new_y=NEXT_Y)
    pdf.set_font(pdf.face, "", 10)
    pdf.cell(0, 6, f"{words('pdf_shop')}: {s.shop} ({s.phone})", new_x=NEXT_X, new_y=NEXT_Y)
    if s.wholesalers:
        pdf.multi_cell(0, 6, f"{words('pdf_wholesalers')}: {', '.join(s.wholesalers)}", new_x=NEXT_X, new_y=NEXT_Y)
    first, last = s.month.first_day, s.month.last_day
    pdf.cell(
        0,
        6,
        f"{words('pdf_period')}: {bs_date(first, lang)} – {bs_date(last, lang)} ({first} – {last})",
        new_x=NEXT_X,
        new_y=NEXT_Y,
    )
    pdf.ln(2)
    pdf.set_font(pdf.face, "B", 10)
    pdf.cell(0, 7, f"{words('pdf_opening')}: {_balance(s.opening, lang, words)}", new_x=NEXT_X, new_y=NEXT_Y)

    heads = ("pdf_date", "pdf_details", "pdf_debit", "pdf_credit", "pdf_balance")
    pdf.set_fill_color(235, 235, 235)
    for i, (key, width) in enumerate(zip(heads, WIDTHS, strict=True)):
        pdf.cell(width, 7, words(key), border=1, fill=True, align="L" if i < 2 else "R")
    pdf.ln()
    pdf.set_font(pdf.face, "", 9)
    if not s.entries:
        pdf.cell(sum(WIDTHS), 7, words("pdf_no_entries"), border=1, new_x=NEXT_X, new_y=NEXT_Y)
    for r in s.entries:
        assert r.when is not None
        details = f"{r.order_ref} · {r.description}" if r.order_ref else r.description
        if pdf.get_string_width(details) > WIDTHS[1] - 2:
            while details and pdf.get_string_width(details + "…") > WIDTHS[1] - 2:
                details = details[:-1]
            details += "…"
        cells = (
            bs_date(r.when, lang),
            details,
            _money(r.debit, lang),
            _money(r.credit, lang),
            _balance(r.balance, lang, words),
        )
        for i, (value, width) in enumerate(zip(cells, WIDTHS, strict=True)):
            pdf.cell(width, 6.5, value, border=1, align="L" if i < 2 else "R")
        pdf.ln()
    pdf.set_font(pdf.face, "B", 9)
    pdf.cell(WIDTHS[0] + WIDTHS[1], 7, words("pdf_totals"), border=1)
    pdf.cell(WIDTHS[2], 7, _money(s.debits, lang), border=1, align="R")
    pdf.cell(WIDTHS[3], 7, _money(s.credits, lang), border=1, align="R")
    pdf.cell(WIDTHS[4], 7, "", border=1, new_x=NEXT_X, new_y=NEXT_Y)
    pdf.ln(2)
    pdf.set_font(pdf.face, "B", 11)
    pdf.cell(0, 8, f"{words('pdf_closing')}: {_balance(s.closing, lang, words)}", new_x=NEXT_X, new_y=NEXT_Y)
    pdf.set_font(pdf.face, "", 8)
    pdf.cell(0, 6, f"{words('pdf_generated')}: {admin_when(generated)}", new_x=NEXT_X, new_y=NEXT_Y)
