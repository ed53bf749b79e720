"""Units of measure as data: every unit with its spellings in three scripts (English, romanised
Nepali, Devanagari) and its relation to another unit.

`DEFAULT_UNITS` is the built-in table, equal to the rows migration 0010 seeds into `units` (a test
holds them equal); the parser's unit words are built from it. Relations: `factor` of `base` per
one unit (1 quintal = 100 kg, 1 pathi = 8 mana); `approximate` marks the ones that depend on what
is measured (1 mana of rice is about 0.5625 kg, so a pathi about 4.5 kg; a dharni about 2.4 kg).
Packaging units (bora, carton, packet, ...) have no fixed measure: a product's pack size says how
much one holds ("Surf Excel (1kg)" is 1 kg a packet), so 5 kg of it is 5 packets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from parsing.text import word_key


@dataclass(frozen=True)
class UnitDef:
    code: str
    name_en: str
    name_ne: str
    spellings: tuple[str, ...]  # every way it is written, all scripts; the code is one of them
    base: str | None = None
    factor: Decimal | None = None  # how many `base` one of this unit is
    approximate: bool = False


def _u(code: str, en: str, ne: str, spellings: str, base: str | None = None, factor: str | None = None,
       approximate: bool = False) -> UnitDef:  # fmt: skip
    words = tuple(dict.fromkeys([code, *spellings.split()]))
    return UnitDef(code, en, ne, words, base, Decimal(factor) if factor else None, approximate)


DEFAULT_UNITS: tuple[UnitDef, ...] = (
    _u("bora", "sack", "बोरा", "boraa boras bori boris bories bora's sack sacks bag bags bagg borá बोरा बोरी बोरि"),
    _u("kg", "kg", "केजी", "kgs kilo kilos kilogram kilograms kilogramme kgms keji kiloo केजी किलो किलोग्राम केजि"),
    _u("g", "gram", "ग्राम", "gm gms gram grams gramme grammes gr grm ग्राम", "kg", "0.001"),
    _u("quintal", "quintal", "क्विन्टल", "quintals quintl kwintal kuintal kintal क्विन्टल क्वीन्टल क्विंटल", "kg", "100"),
    _u("litre", "litre", "लिटर", "litres liter liters ltr ltrs lt l lit litar liter's लिटर लि"),
    _u("ml", "ml", "एमएल", "mls millilitre milliliter एमएल मिलि", "litre", "0.001"),
    _u("carton", "carton", "कार्टुन", "cartons ctn ctns cartoon cartoons kartun cartun cartan कार्टुन कार्टून कार्टन"),
    _u("packet", "packet", "प्याकेट",
       "packets pkt pkts pack packs pckt pkg paket pyaket pyakat poka pokaa pokas प्याकेट पोका प्याकट"),
    _u("piece", "piece", "वटा", "pieces pcs pc pis wata ota ta gota nos वटा ओटा गोटा टा"),
    _u("dozen", "dozen", "दर्जन", "dozens darjan darjen dz doz dozn दर्जन", "piece", "12"),
    _u("tray", "tray", "ट्रे", "trays trey tre ट्रे"),
    _u("crate", "crate", "क्रेट", "crates kret krate क्रेट"),
    _u("case", "case", "केस", "cases kes केस"),
    _u("box", "box", "बक्सा", "boxes bx baksa bakas baksha बक्सा बाकस"),
    _u("bottle", "bottle", "बोतल", "bottles btl btls botal bottal बोतल बोटल"),
    _u("pathi", "pathi", "पाथी", "paathi pathis pathee पाथी पाथि", "mana", "8"),
    _u("mana", "mana", "माना", "maana manaa manas माना", "kg", "0.5625", approximate=True),
    _u("dharni", "dharni", "धार्नी", "dharnee dharani धार्नी धार्नि धारनी", "kg", "2.4", approximate=True),
)  # fmt: skip
UNITS: dict[str, UnitDef] = {u.code: u for u in DEFAULT_UNITS}


def _root(code: str, units: dict[str, UnitDef]) -> tuple[str, Decimal, bool]:
    """(root unit, how many roots one `code` is, approximate?)."""
    factor, approx, seen = Decimal(1), False, set()
    while code in units and units[code].base is not None and code not in seen:
        seen.add(code)
        u = units[code]
        factor *= u.factor or Decimal(1)
        approx = approx or u.approximate
        code = u.base or code
    return code, factor, approx


def _chain(code: str, units: dict[str, UnitDef]) -> dict[str, tuple[Decimal, bool]]:
    """{unit on the way up from `code`: (how many of it one `code` is, approximate?)}, nearest first."""
    out: dict[str, tuple[Decimal, bool]] = {code: (Decimal(1), False)}
    factor, approx = Decimal(1), False
    while code in units and units[code].base is not None:
        u = units[code]
        factor *= u.factor or Decimal(1)
        approx = approx or u.approximate
        code = u.base or code
        if code in out:
            break
        out[code] = (factor, approx)
    return out


@dataclass(frozen=True)
class Converted:
    quantity: Decimal
    approximate: bool


def convert(
    quantity: Decimal,
    unit: str,
    to: str,
    pack: tuple[Decimal, str] | None = None,
    units: dict[str, UnitDef] | None = None,
) -> Converted | None:
    """`quantity` `unit` in `to` units; `pack` (size, unit) is what one `to` holds ("1 kg" a
    packet). None when they do not convert (kg of a product sold by the bora with no pack size)."""
    table = units or UNITS
    if unit == to:
        return Converted(quantity, False)
    up_a, up_b = _chain(unit, table), _chain(to, table)
    for code, (b_factor, b_approx) in up_b.items():
        if code in up_a:  # the nearest unit both are measured in: 1 pathi = 8 mana, exactly
            a_factor, a_approx = up_a[code]
            return Converted(quantity * a_factor / b_factor, a_approx or b_approx)
    a_root, a_factor, a_approx = _root(unit, table)
    if pack is not None:
        size, pack_unit = pack
        p_root, p_factor, p_approx = _root(pack_unit, table)
        if p_root == a_root and size > 0:
            return Converted(quantity * a_factor / (size * p_factor), a_approx or p_approx)
    return None


_PACK = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*(kg|kgs|g|gm|gms|gram|grams|l|ltr|litre|liter|ml)\b", re.I)
_PACK_UNITS = {"kg": "kg", "kgs": "kg", "g": "g", "gm": "g", "gms": "g", "gram": "g", "grams": "g", "l": "litre",
               "ltr": "litre", "litre": "litre", "liter": "litre", "ml": "ml"}  # fmt: skip


def pack_of(name: str) -> tuple[Decimal, str] | None:
    """The pack size a product's name states: "Surf Excel (1kg)" -> (1, "kg"), "Rice (25 kg)" -> (25, "kg")."""
    m = _PACK.search(name)
    if m is None:
        return None
    return Decimal(m.group(1)), _PACK_UNITS[m.group(2).lower()]


def unit_code(spelling: str, units: dict[str, UnitDef] | None = None) -> str | None:
    """The unit code of any known spelling, in any script ("bag" -> "bora", "प्याकेट" -> "packet")."""
    key = word_key(spelling.strip().lower())
    for u in (units or UNITS).values():
        if key in {word_key(s) for s in u.spellings}:
            return u.code
    return None


def pack_for(name: str, unit: str, units: dict[str, UnitDef] | None = None) -> tuple[Decimal, str] | None:
    """A product's pack size from its name, when its unit is a package ("Surf Excel (1kg)" sold by
    the packet); None for a product sold by a measure ("Masoor Dal 1 kg" sold by the kg)."""
    pack = pack_of(name)
    table = units or UNITS
    if pack is None or _root(unit, table)[0] == _root(pack[1], table)[0]:
        return None
    return pack
