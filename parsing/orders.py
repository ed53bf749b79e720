"""Order lines: find products, quantities and units in a message and pair them up.

A message is cut into segments (lines, commas, "and"/"ra"/"र", "&", "+", ";" ...). In each segment:
1. the longest exact alias match is taken left to right ("jeera masino" before "jeera");
2. the remaining words become numbers, units, multiplication signs, filler (dropped) or unknown;
3. unknown words are tried against the phonetic index, then the generic-word index (which may give
   several candidates: an ambiguity), then rapidfuzz (also merged with a neighbouring product:
   "jeera masinoo" is the rice, not cumin + something);
4. numbers and units are grouped into quantities ("2 bora", "dedh kg", "twenty five", "x10");
5. quantities are paired with products: when the segment starts with a quantity, quantities
   precede their products ("2 bora chamal 1 kg jeera"), otherwise they follow them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from parsing import lexicon as lx
from parsing.catalog import Catalog
from parsing.text import Token, tokenize, word_key

MAX_QUANTITY = Decimal(100_000)
# Above these a quantity is absurd for one shop's order: refused and asked, never trimmed.
MAX_PER_UNIT: dict[str, Decimal] = {
    unit: Decimal(limit)
    for unit, limit in {
        "bora": 500, "quintal": 50, "kg": 2000, "g": 1_000_000, "litre": 2000, "ml": 1_000_000,
        "carton": 1000, "packet": 3000, "piece": 2000, "dozen": 1000, "tray": 500, "crate": 500,
        "case": 500, "box": 1000, "bottle": 2000, "pathi": 500, "mana": 2000, "dharni": 500,
    }.items()
}  # fmt: skip


def max_quantity(unit: str | None) -> Decimal:
    return MAX_PER_UNIT.get(unit or "", MAX_QUANTITY)


FUZZY_MARGIN = 4.0
_VULGAR = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "¾": Decimal("0.75")}
_ONE = Decimal(1)
# A written packaging unit tells products apart ("coke 2 crate" vs "coke 2 bottle"); a measure
# (kg, litre) does not ("5 kg ghee" still needs asking which ghee).
PACKAGING_UNITS = frozenset({"crate", "bottle", "case", "tray", "carton", "box"})


@dataclass
class El:
    kind: str  # P product, N number, M modifier, H hundred, U unit, X times, W unknown word, Q quantity
    i: int  # first token index in the segment
    j: int  # one past the last token index
    skus: tuple[str, ...] = ()
    how: str = ""  # exact | loose | token | fuzzy
    value: Decimal | None = None
    unit: str | None = None
    weak: bool = False
    half: bool = False
    explicit: bool = True  # Q: the quantity was written (not implied by a bare unit)
    bad: str = ""  # Q: why the written quantity cannot be used ("zero", "negative", "too_large", ...)

    @property
    def generic(self) -> bool:
        return self.kind == "P" and (len(self.skus) > 1 or self.how == "token")


@dataclass
class Item:
    sku: str
    quantity: Decimal
    unit: str
    matched_text: str
    explicit: bool
    strong: bool = False  # the quantity had a unit or stood right next to the product


@dataclass
class Refused:
    """A quantity that is not used: negative, zero, absurd or not a plain number. Never repaired."""

    text: str  # the quantity as written
    reason: str  # zero | negative | too_large | not_plain
    sku: str | None = None
    matched_text: str = ""
    unit: str | None = None


@dataclass
class Ambig:
    text: str
    candidates: tuple[str, ...]


@dataclass
class OrderLines:
    items: list[Item] = field(default_factory=list)
    ambiguities: list[Ambig] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    quantity_seen: bool = False  # some segment had a written quantity
    refused: list[Refused] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)  # products the message says it does NOT want
    negated_skus: list[str] = field(default_factory=list)
    loose_words: int = 0  # words that are neither product, quantity, unit nor filler (chat)
    talk: list[str] = field(default_factory=list)  # words of talk outside product names ("bechthe")
    list_lines: int = 0  # lines that carry a product (a written list is an ordering signal)
    loose: list[str] = field(default_factory=list)  # the unknown words' text, segment by segment

    @property
    def found(self) -> bool:
        return bool(self.items or self.ambiguities)


@dataclass
class _Seg:
    items: list[Item] = field(default_factory=list)
    ambiguities: list[Ambig] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    lone_quantity: El | None = None
    words: str = ""
    has_quantity: bool = False
    refused: list[Refused] = field(default_factory=list)
    negated: list[tuple[str, str | None]] = field(default_factory=list)
    each: bool = False
    talk: list[str] = field(default_factory=list)
    loose_words: int = 0


# --- before tokenising: numbers that are not plain quantities, markers, "2-2 kg" ------------------
_KEYCAP = re.compile("[0-9#*]\ufe0f?\u20e3")
_MARK_EMOJI = re.compile(
    "[\u2705\u2611\u2714\u25b6\u27a1\u2b50\U0001f538\U0001f539\U0001f449\U0001f7e2\U0001f535\ufe0f]"
)
_LETTER_MARKER = re.compile(r"(?m)^[ \t]*\(?[a-h]\)[ \t]")
_MID_MARKER = re.compile(r"(?:(?<=\s)|^)\(?[0-9]{1,2}\)(?=[ \t]*[^\s0-9])")
_DASH_MARKER = re.compile(r"(?m)^([ \t]*[0-9]{1,2})[ \t]?-(?=[ \t]*[^\s0-9])")
_DISTRIBUTIVE = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)(?:[ \t]?[-/][ \t]?|[ \t])\1(?![0-9.])")
_WORD_TWICE = re.compile(r"(?<![\w\u0900-\u097f])([a-z]+|[\u0900-\u097f]+)[ \t]?-?[ \t]?\1(?![\w\u0900-\u097f])")
_SCIENTIFIC = re.compile(r"(?<![a-z0-9.])[-+]?[0-9]+(?:\.[0-9]+)?e[-+]?[0-9]+(?![a-z0-9.])")
_DOTTED = re.compile(r"(?<![0-9.])[0-9]+(?:\.\.+[0-9]+|\.[0-9]+\.[0-9.]*[0-9])(?![0-9])")
_NEGATIVE = re.compile(r"(?:(?<=\s)|^)[-\u2212\u2013](?=[0-9])([0-9][0-9,]*(?:\.[0-9]+)?)")
_LONG = re.compile(r"(?<![0-9+])[0-9]{8,}(?![0-9])")
_OVER_ZERO = re.compile(r"(?<![0-9.])[0-9]+/0+(?![0-9])")
_PHONE_LIKE = re.compile(r"^(?:977)?9[678][0-9]{8}$")


@dataclass
class Prepared:
    low: str
    bad: dict[int, tuple[str, str]] = field(default_factory=dict)  # offset -> (as written, reason)
    each_at: list[int] = field(default_factory=list)  # offsets of "2-2" distributive quantities


def _blank(low: str, a: int, b: int, keep: str = "") -> str:
    return low[:a] + keep + " " * (b - a - len(keep)) + low[b:]


def _spaces(m: re.Match[str]) -> str:
    return " " * len(m.group(0))


def prepare(low: str) -> Prepared:
    """Mark what the tokenizer would misread, keeping every offset: list markers become blanks,
    "2-2 kg" becomes "2 kg" with a distributive mark, and a quantity that is negative, in
    scientific notation, dotted twice or absurdly long becomes a "0" remembered as refused.
    Each pattern runs only when the characters it needs are there (most messages have none)."""
    out = Prepared(low)
    if not low.isascii():
        low = _MARK_EMOJI.sub(_spaces, _KEYCAP.sub(_spaces, low))
    if ")" in low:
        low = _MID_MARKER.sub(_spaces, _LETTER_MARKER.sub(_spaces, low))
    dash = "-" in low or "\u2212" in low or "\u2013" in low
    if dash:
        low = _DASH_MARKER.sub(_spaces, low)
    for m in _DISTRIBUTIVE.finditer(low):  # "2-2 kg", "3/3 carton", "5 5 kg": that much of each
        a = m.start() + len(m.group(1))
        low = _blank(low, a, m.end())
        out.each_at.append(m.start())
    for m in _WORD_TWICE.finditer(low):  # "dui dui kg", "दुई दुई केजी"
        if word_key(m.group(1)) in lx.NUMBER_WORDS and word_key(m.group(1)) not in lx.HALF_WORDS:
            a = m.start() + len(m.group(1))
            low = _blank(low, a, m.end())
            out.each_at.append(m.start())
    marks: list[tuple[re.Pattern[str], str]] = []
    if "e" in low:
        marks.append((_SCIENTIFIC, "not_plain"))
    if "." in low:
        marks.append((_DOTTED, "not_plain"))
    if "/" in low:
        marks.append((_OVER_ZERO, "not_plain"))
    if dash:
        marks.append((_NEGATIVE, "negative"))
    bullets = sum(1 for ln in low.split("\n") if ln.lstrip().startswith(("-", "\u2013"))) if dash else 0
    for rx, reason in marks:
        for m in list(rx.finditer(low)):
            if reason == "negative" and bullets >= 2 and low[: m.start()].split("\n")[-1].strip() == "":
                continue  # "-2 kg chini" in a list of dashed lines is a bullet, not minus two
            out.bad[m.start()] = (out.low[m.start() : m.end()], reason)
            low = _blank(low, m.start(), m.end(), "0")
    for m in _LONG.finditer(low):
        if not _PHONE_LIKE.match(m.group(0)):
            out.bad[m.start()] = (m.group(0), "too_large")
            low = _blank(low, m.start(), m.end(), "0")
    out.low = low
    return out


# --- segmentation ---------------------------------------------------------------------------------
def _line_marker_end(low: str, start: int, end: int, multi_line: bool) -> int:
    """Skip list markers at the start of a line: "1)", "1.", "-", "•", "*"."""
    i = start
    while i < end and low[i] in " \t":
        i += 1
    j = i
    while j < end and low[j] in "-•*·▪►➤✓✔>◆○●→":
        j += 1
    if j > i:
        return j
    k = i
    if k < end and low[k] == "(":
        k += 1
    d = k
    while d < end and low[d].isdigit() and d - k < 2:
        d += 1
    if d > k and d < end and low[d] in ").:":
        after = d + 1
        if after < end and low[after] not in " \t":
            return start
        if low[d] == ")" or multi_line or any(ch.isdigit() for ch in low[after:end]):
            return after
    return start


def segments(low: str, cat: Catalog | None = None) -> list[list[Token]]:
    lines: list[tuple[int, int]] = []
    pos = 0
    for part in low.split("\n"):
        lines.append((pos, pos + len(part)))
        pos += len(part) + 1
    multi = sum(1 for a, b in lines if low[a:b].strip()) > 1
    out: list[list[Token]] = []
    for a, b in lines:
        a = _line_marker_end(low, a, b, multi)
        toks = tokenize(low, a, b)
        cur: list[Token] = []
        for n, t in enumerate(toks):
            joined = (
                cat is not None and 0 < n < len(toks) - 1 and (toks[n - 1].key, t.key, toks[n + 1].key) in cat.joined
            )
            if not joined and (
                t.kind == "s" or (t.kind == "w" and t.key in lx.SEPARATOR_WORDS and not _half_follows(toks, n))
            ):
                if cur:
                    out.append(cur)
                cur = []
            else:
                cur.append(t)
        if cur:
            out.append(cur)
    return out


def _half_follows(toks: list[Token], n: int) -> bool:
    nxt = toks[n + 1].key if n + 1 < len(toks) else ""
    if nxt in ("a", "ek") and n + 2 < len(toks):
        nxt = toks[n + 2].key
    return nxt in lx.HALF_WORDS and n > 0 and toks[n - 1].kind in ("n", "w")


# --- classification -------------------------------------------------------------------------------
def _number(key: str) -> Decimal | None:
    try:
        if "/" in key:
            a, b = key.split("/")
            return Decimal(a) / Decimal(b)
        if len(key.split(".")[0]) > 7:
            return None  # a phone number or an id, not a quantity
        return Decimal(key)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None


def _is_filler(key: str) -> bool:
    if key in lx.FILLER or key in lx.SEPARATOR_WORDS or key in lx.WHOLESALER_COMMANDS:
        return True
    if key in lx.INTENT_PHRASES or key in lx.EACH_WORDS:
        return True
    return len(key) >= 4 and key.startswith(lx.FILLER_PREFIXES)


def _classify(t: Token, n: int) -> list[El]:
    k = t.key
    if t.kind == "n":
        v = _number(k)
        return [El("N", n, n + 1, value=v)] if v is not None else []
    if t.kind == "v":
        return [El("N", n, n + 1, value=_VULGAR.get(k, Decimal("0.5")))]
    if t.kind == "x":
        return [El("X", n, n + 1)]
    if k in lx.MULTIPLY_WORDS:
        return [El("X", n, n + 1)]
    v = lx.NUMBER_WORDS.get(k)
    if v is not None:
        return [El("N", n, n + 1, value=v, weak=k in lx.AMBIGUOUS_NUMBER_WORDS, half=k in lx.HALF_WORDS)]
    if k in lx.ONE_PIECE_WORDS:
        return [El("N", n, n + 1, value=_ONE), El("U", n, n + 1, unit="piece")]
    if k in lx.HUNDRED_WORDS:
        return [El("H", n, n + 1, value=Decimal(100))]
    if k in lx.THOUSAND_WORDS:
        return [El("H", n, n + 1, value=Decimal(1000))]
    if k in lx.LAKH_WORDS:
        return [El("H", n, n + 1, value=Decimal(100_000))]
    m = lx.MODIFIER_WORDS.get(k)
    if m is not None:
        return [El("M", n, n + 1, value=m)]
    u = lx.UNIT_WORDS.get(k)
    if u is not None:
        return [El("U", n, n + 1, unit=u, weak=k in lx.WEAK_UNITS)]
    for suf in lx.COUNT_SUFFIXES:
        if len(k) > len(suf) and k.endswith(suf):
            v = lx.NUMBER_WORDS.get(k[: -len(suf)])
            if v is not None:
                return [El("N", n, n + 1, value=v), El("U", n, n + 1, unit="piece")]
    if _is_filler(k):
        return [El("F", n, n + 1)]
    if t.kind == "w" and len(k) == 1 and k.isascii():
        return []
    return [El("W", n, n + 1)]


# --- unknown words ------------------------------------------------------------------------------
def _fuzzy_el(cat: Catalog, compact: str, i: int, j: int) -> El | None:
    hits = cat.fuzzy(compact)
    if not hits:
        return None
    top = hits[0][1]
    close = tuple(s for s, score in hits if top - score < FUZZY_MARGIN)
    return El("P", i, j, skus=close, how="fuzzy", value=Decimal(str(round(top, 2))))


def _resolve_unknown(els: list[El], keys: list[str], cat: Catalog) -> list[El]:
    # 1. phonetic exact and generic words, run by run
    out: list[El] = []
    k = 0
    while k < len(els):
        if els[k].kind != "W":
            out.append(els[k])
            k += 1
            continue
        r = k
        while r < len(els) and els[r].kind == "W":
            r += 1
        run = els[k:r]
        run_keys = [keys[e.i] for e in run]
        prev = out[-1] if out else None
        if prev is not None and prev.kind == "P" and prev.how == "exact":
            # "jeera masinno": the known word and the misspelt one together are one product
            head = keys[prev.i : prev.j]
            end, skus = cat.longest(head + run_keys, 0, len(head) + len(run), loose=True)
            if skus and end > len(head):
                out[-1] = El("P", prev.i, run[end - len(head) - 1].j, skus=skus, how="loose")
                run = run[end - len(head) :]
                run_keys = run_keys[end - len(head) :]
        p = 0
        while p < len(run):
            end, skus = cat.longest(run_keys, p, len(run), loose=True)
            if skus and end == p + 1 and run_keys[p] in cat.words and cat.token_skus(run_keys[p]):
                skus = ()  # "pani" is a word of "pani bottle": not "panni" (a carry bag) spelt loosely
            if skus:
                out.append(El("P", run[p].i, run[end - 1].j, skus=skus, how="loose"))
                p = end
                continue
            skus = cat.token_skus(run_keys[p]) if run_keys[p] not in lx.NEVER_TOKEN_WORDS else ()
            if skus:
                out.append(El("P", run[p].i, run[p].j, skus=cat.rank(skus), how="token"))
            else:
                out.append(run[p])
            p += 1
        k = r
    # 2. fuzzy for what is still unknown
    res: list[El] = []
    k = 0
    while k < len(out):
        if out[k].kind != "W":
            res.append(out[k])
            k += 1
            continue
        r = k
        while r < len(out) and out[r].kind == "W":
            r += 1
        run = out[k:r]
        compact = "".join(keys[e.i] for e in run)
        prev = res[-1] if res else None
        nxt = out[r] if r < len(out) else None
        # "will powder", "rum pump noodles", "talk la tea": words heard and typed as English, beside
        # a word of the product's name, together spell that product (one of the word's products)
        if nxt is not None and nxt.kind == "P" and nxt.how == "token" and len(run) <= 3:
            merged = _fuzzy_el(cat, compact + "".join(keys[nxt.i : nxt.j]), run[0].i, nxt.j)
            if merged is None and len(compact) >= 5:
                merged = _fuzzy_el(cat, compact, run[0].i, nxt.j)
            if merged is not None and len(merged.skus) == 1 and merged.skus[0] in nxt.skus:
                res.append(merged)
                k = r + 1
                continue
        if all(keys[e.i] in lx.NOT_PRODUCT_WORDS for e in run):
            res.extend(run)  # "weather", "tap", "home": everyday words are never a typo'd product
            k = r
            continue
        done = False
        # merged with a neighbouring exact product: "jeera masinoo", "dhara oill"
        if prev is not None and prev.kind == "P" and prev.how in ("exact", "loose") and prev.j <= run[0].i:
            merged = _fuzzy_el(cat, "".join(keys[prev.i : prev.j]) + compact, prev.i, run[-1].j)
            if merged is not None and len(merged.skus) == 1:
                res[-1] = merged
                done = True
        if not done and nxt is not None and nxt.kind == "P" and nxt.how in ("exact", "loose"):
            merged = _fuzzy_el(cat, compact + "".join(keys[nxt.i : nxt.j]), run[0].i, nxt.j)
            if merged is not None and len(merged.skus) == 1:
                res.append(merged)
                k = r + 1
                continue
        if not done and len(run) <= 4:
            whole = _fuzzy_el(cat, compact, run[0].i, run[-1].j)
            if whole is not None:
                res.append(whole)
                done = True
        if not done:
            for e in run:
                single = _fuzzy_el(cat, keys[e.i], e.i, e.j) if len(run) > 1 else None
                res.append(single if single is not None else e)
        k = r
    return res


_POSTPOSITIONS = frozenset({"ko", "ka", "ki", "ke", "ma", "le", "lai", "bata", "dekhi", "samma", "of", "in", "to"})


def _other_name(els: list[El], keys: list[str], cat: Catalog) -> list[El]:
    """One word of a product's name beside an unknown word names another product: "plywood sheet" is
    not the CGI sheet, "red bull" not Dabur Red, "door lock" not the door hinge. Asked, not guessed."""
    out = list(els)
    for n, e in enumerate(els):
        if e.kind != "P" or len(e.skus) != 1:
            continue
        if e.how != "token" and not (e.how == "exact" and "".join(keys[e.i : e.j]) in cat.derived):
            continue
        beside = [els[m] for m in (n - 1, n + 1) if 0 <= m < len(els)]
        if any(
            b.kind == "W"
            and (b.j == e.i or b.i == e.j)
            and len(keys[b.i]) >= 3
            and not cat.resembles(keys[b.i], e.skus[0])
            for b in beside
        ):  # "goodnite coil" keeps Good Knight: the unknown word is its name misspelt
            out[n] = El("W", e.i, e.j)
    return out


def _heard_apart(els: list[El], keys: list[str], cat: Catalog) -> list[El]:
    """A brand heard by voice typing as ordinary words: "dr fix it" (Dr. Fixit), "call gate"
    (Colgate), where a short word ("it", "call") is also a chat word. Unknown words with the short
    words around them, run together, that sound like exactly one product's name are that product."""
    if not any(e.kind == "W" for e in els):
        return els
    out: list[El] = []
    k = 0
    while k < len(els):
        e = els[k]
        if e.kind not in ("W", "F"):
            out.append(e)
            k += 1
            continue
        r = k
        while r < len(els) and els[r].kind in ("W", "F") and (r == k or els[r].i == els[r - 1].j):
            r += 1
        run = els[k:r]
        best: tuple[int, int, El] | None = None
        if any(x.kind == "W" for x in run) and any(x.kind == "F" for x in run):
            for a in range(len(run)):
                for b in range(a + 2, min(len(run), a + 4) + 1):
                    part = run[a:b]
                    if not any(x.kind == "W" for x in part) or any(
                        (
                            x.kind == "F"
                            and (len(keys[x.i]) > 4 or not keys[x.i].isascii() or keys[x.i] in _POSTPOSITIONS)
                        )
                        or (x.kind == "W" and keys[x.i] in lx.NOT_PRODUCT_WORDS)
                        for x in part
                    ):
                        continue  # "ko bhau", "bazar ko": words of the sentence, not a name heard apart
                    compact = "".join(keys[x.i] for x in part)
                    skus = cat.spelt(compact)
                    if len(skus) == 1:
                        best = (a, b, El("P", part[0].i, part[-1].j, skus=skus, how="loose"))
                        break
                    # one slip at most: "callgate" is Colgate, "thehulaswire" is not a 1 mm wire
                    hits = [h for h in cat.fuzzy(compact) if h[1] >= 85.0] if len(compact) >= 7 else []
                    if len(hits) == 1 or (len(hits) > 1 and hits[0][1] - hits[1][1] >= FUZZY_MARGIN):
                        best = (a, b, El("P", part[0].i, part[-1].j, skus=(hits[0][0],), how="fuzzy"))
                        break
                if best is not None:
                    break
        if best is None:
            out.extend(run)
        else:
            a, b, product = best
            out.extend([*run[:a], product, *run[b:]])
        k = r
    return out


def _promote_chat_word(els: list[El], fillers: list[El], keys: list[str], cat: Catalog) -> list[El]:
    """A chat word that is also a brand ("hello" = Hello Biscuit) names the product only when the
    segment has a written quantity and no other product: "parle-g 5 ctn & hello 2 ctn"."""
    if any(e.kind == "P" for e in els) or not any(e.kind == "N" and not e.weak for e in els):
        return els
    named = [(e, cat.chat_word_skus(keys[e.i])) for e in fillers]
    named = [(e, skus) for e, skus in named if skus]
    if len(named) != 1:
        return els
    target, skus = named[0]
    product = El("P", target.i, target.j, skus=skus, how="token")
    return sorted([*els, product], key=lambda e: (e.i, e.kind != "P"))


# --- quantities ---------------------------------------------------------------------------------
def _combine(els: list[El], k: int) -> tuple[Decimal | None, int, bool]:
    """Read a number phrase starting at els[k]; returns (value, next index, weak)."""
    n = len(els)
    delta = Decimal(0)
    if els[k].kind == "M":
        delta = els[k].value or Decimal(0)
        k += 1
        if k >= n or els[k].kind != "N":
            return (Decimal("1.25") if delta == Decimal("0.25") else None), k, False
    e = els[k]
    if e.kind == "H":
        val: Decimal | None = e.value
        weak = False
    else:
        val = e.value
        weak = e.weak
    k += 1
    words = 1
    while k < n and val is not None:
        e = els[k]
        if e.kind == "H":
            val = val * (e.value or 1)
            weak = False
        elif e.kind == "N" and e.value is not None and val == val.to_integral_value():
            v = e.value
            whole = v == v.to_integral_value()
            and_half = e.half and val >= 1  # "one and a half", "dui aadha"
            hundreds = val >= 100 and val % 100 == 0 and v < 100 and whole  # "ek saya bis"
            tens = 20 <= val < 100 and val % 10 == 0 and 0 < v < 10 and whole  # "twenty five"
            if not (and_half or hundreds or tens):
                break
            val = val + v
            weak = False
        else:
            break
        words += 1
        k += 1
    if val is not None:
        val = val + delta
    return val, k, weak and words == 1


def _quantities(els: list[El]) -> list[El]:
    out: list[El] = []
    n = len(els)
    k = 0
    while k < n:
        e = els[k]
        if e.kind in ("N", "M", "H"):
            start = k
            val, k, weak = _combine(els, k)
            unit = None
            j = els[k - 1].j if k > start else e.j
            if k < n and els[k].kind == "U":
                unit = els[k].unit
                j = els[k].j
                k += 1
            if weak and unit is None:
                after_product = k < n and els[k].kind == "P"
                after_times = start > 0 and els[start - 1].kind == "X"
                if not (after_product or after_times):
                    continue
            if val is None:
                continue
            bad = "zero" if val <= 0 else "too_large" if val > max_quantity(unit) else ""
            out.append(El("Q", e.i, j, value=val, unit=unit, bad=bad))
        elif e.kind == "U":
            if k + 1 < n and els[k + 1].kind in ("N", "M") and not els[k + 1].weak:
                val, k2, _weak = _combine(els, k + 1)
                if not (k2 < n and els[k2].kind == "U") and val is not None:
                    bad = "zero" if val <= 0 else "too_large" if val > max_quantity(e.unit) else ""
                    out.append(El("Q", e.i, els[k2 - 1].j, value=val, unit=e.unit, bad=bad))
                    k = k2
                    continue
            if not e.weak:
                out.append(El("Q", e.i, e.j, value=_ONE, unit=e.unit, explicit=False))
            k += 1
        elif e.kind == "X":
            k += 1
        else:
            out.append(e)
            k += 1
    return _pack_sizes(out, els)


def _pack_sizes(qs: list[El], els: list[El]) -> list[El]:
    """Pack sizes: "1 ltr x 12" or "12 x 1 ltr" is twelve one-litre packs = 12 litre."""
    times = {e.i for e in els if e.kind == "X"}
    out: list[El] = []
    for e in qs:
        prev = out[-1] if out else None
        if (
            e.kind == "Q"
            and prev is not None
            and prev.kind == "Q"
            and prev.explicit
            and e.explicit
            and any(prev.j <= t < e.i for t in times)
            and (prev.unit is None) != (e.unit is None)
            and prev.value is not None
            and e.value is not None
        ):
            out[-1] = El("Q", prev.i, e.j, value=prev.value * e.value, unit=prev.unit or e.unit)
            continue
        out.append(e)
    return out


# --- pairing ------------------------------------------------------------------------------------
def _merge_products(els: list[El], keys: list[str] | None = None, cat: Catalog | None = None) -> list[El]:
    out: list[El] = []
    for e in els:
        prev = out[-1] if out else None
        if (
            e.kind == "P" and prev is not None and prev.kind == "P" and keys is not None and cat is not None
            and len(prev.skus) == 1 and e.j - e.i == 1 and prev.skus[0] in cat.token_skus(keys[e.i])
        ):  # fmt: skip
            out[-1] = El("P", prev.i, e.j, skus=prev.skus, how=prev.how)  # "shakti bhog atta": atta is its word
            continue
        if e.kind == "P" and prev is not None and prev.kind == "P":
            if prev.skus == e.skus:
                out[-1] = El("P", prev.i, e.j, skus=prev.skus, how=prev.how)
                continue
            if e.generic and not prev.generic:
                if cat is not None and prev.j == e.i and prev.skus[0] not in e.skus:
                    kinds = cat.kind_words(prev.skus[0])
                    if kinds and not any(set(cat.token_skus(w)) & set(e.skus) for w in kinds):
                        # "dove shampoo" where Dove is a soap: a kind no product of that word shares with
                        # the brand's own ("soap"), so another product, asked back ("fortune tel" keeps
                        # Fortune oil: "oil" and "tel" name the same products elsewhere)
                        out[-1] = El("W", prev.i, e.j)
                        continue
                out[-1] = El("P", prev.i, e.j, skus=prev.skus, how=prev.how)
                continue
            if prev.generic and not e.generic:
                out[-1] = El("P", prev.i, e.j, skus=e.skus, how=e.how)
                continue
            if prev.generic and e.generic:
                common = tuple(s for s in prev.skus if s in e.skus)
                if common:
                    out[-1] = El("P", prev.i, e.j, skus=common, how="token" if len(common) > 1 else "exact")
                    continue
        out.append(e)
    return out


def _pair(els: list[El]) -> dict[int, int]:
    """Index of product element -> index of its quantity element."""
    ps = [n for n, e in enumerate(els) if e.kind == "P"]
    qs = [n for n, e in enumerate(els) if e.kind == "Q"]
    pairs: dict[int, int] = {}
    if not ps or not qs:
        return pairs
    if len(ps) == 1:
        p = ps[0]
        before = [q for q in qs if q < p]
        after = [q for q in qs if q > p]
        if before and before[-1] == p - 1:
            pairs[p] = before[-1]
        elif after:
            pairs[p] = after[0]
        elif before:
            pairs[p] = before[-1]
        return pairs
    first = min(ps[0], qs[0])
    quantity_first = els[first].kind == "Q"
    used: set[int] = set()
    for idx, p in enumerate(ps):
        if quantity_first:
            lo = ps[idx - 1] if idx > 0 else -1
            cands = [q for q in qs if lo < q < p and q not in used]
            if cands:
                pairs[p] = cands[-1]
                used.add(cands[-1])
        else:
            hi = ps[idx + 1] if idx + 1 < len(ps) else len(els)
            cands = [q for q in qs if p < q < hi and q not in used]
            if cands:
                pairs[p] = cands[0]
                used.add(cands[0])
    for q in qs:
        if q in used:
            continue
        free = [p for p in ps if p not in pairs]
        if not free:
            break
        p = min(free, key=lambda p: abs(p - q))
        if abs(p - q) == 1:
            pairs[p] = q
            used.add(q)
    return pairs


def _also_pani(keys: list[str], i: int, els: list[El]) -> bool:
    """ "pani" after a product is "also" ("chini pani 2 kg"); at the head of a line it is water."""
    return keys[i] in lx.ALSO_WORDS and any(e.kind == "P" for e in els)


def _segment(toks: list[Token], text: str, cat: Catalog, prep: Prepared | None = None) -> _Seg:
    n = len(toks)
    keys = [t.key if t.kind in ("w", "n") else "" for t in toks]
    els: list[El] = []
    seg = _Seg()
    negations: list[int] = []  # token indexes of "chaidaina", "don't", "ahile pugcha" ...
    i = 0
    while i < n:
        t = toks[i]
        if t.kind == "w" and _negates(keys, i):
            negations.append(i)
        if t.kind == "w" and t.key in lx.EACH_WORDS:
            seg.each = True
        if t.kind in ("w", "n") and not _also_pani(keys, i, els):
            j = cat.sku_at(text, toks, i)
            if j > i:
                els.append(El("P", i, j, skus=(text[t.start : toks[j - 1].end].upper(),), how="exact"))
                i = j
                continue
            j, skus = cat.longest(keys, i, n)
            if skus:
                unit = lx.UNIT_WORDS.get(keys[i])
                if unit is not None and els and els[-1].kind == "N":
                    els.append(El("U", i, i + 1, unit=unit))  # "2 bottle pani": bottle is also the unit
                els.append(El("P", i, j, skus=skus, how="exact"))
                i = j
                continue
        elif t.kind == "w":
            els.append(El("F", i, i + 1))
            i += 1
            continue
        if t.kind == "w" and t.key in lx.TALK_WORDS:
            seg.talk.append(t.key)  # only where the word is not part of a product ("aayo nun")
        els.extend(_classify(t, i))
        i += 1
    if prep is not None and toks and any(toks[0].start <= a <= toks[-1].end for a in prep.each_at):
        seg.each = True
    els = _heard_apart(els, keys, cat)
    fillers = [e for e in els if e.kind == "F"]
    els = [e for e in els if e.kind != "F"]
    if any(e.kind == "W" for e in els):
        els = _resolve_unknown(els, keys, cat)
    if fillers:
        els = _promote_chat_word(els, fillers, keys, cat)
    els = _other_name(els, keys, cat)
    els = _merge_products(_sizes_in_names(_quantities(_drop_times(els, keys)), keys, cat), keys, cat)

    def span(a: int, b: int) -> str:
        return text[toks[a].start : toks[b - 1].end]

    def written(q: El) -> str:
        bad = prep.bad.get(toks[q.i].start) if prep is not None else None
        if not bad:
            return span(q.i, q.j)
        start = toks[q.i].start
        return bad[0] + text[start + len(bad[0]) : max(start + len(bad[0]), toks[q.j - 1].end)]

    def reason(q: El) -> str:
        bad = prep.bad.get(toks[q.i].start) if prep is not None else None
        return bad[1] if bad else q.bad

    seg.has_quantity = any(e.kind == "Q" and e.explicit for e in els)
    seg.loose_words = sum(1 for e in els if e.kind == "W")
    products = [e for e in els if e.kind == "P"]
    words = [e for e in els if e.kind == "W"]
    if not products:
        qs = [e for e in els if e.kind == "Q"]
        for lone in qs:
            if lone.bad or (prep is not None and toks[lone.i].start in prep.bad):
                seg.refused.append(Refused(written(lone), reason(lone), unit=lone.unit))
        if seg.refused:
            return seg
        if words:
            text_words = span(words[0].i, words[-1].j)
            if any(q.explicit and q.unit for q in qs):  # "2 kg paneer"; "2 jana aaye" is talk
                seg.unmatched.append(text_words)
            else:
                seg.words = text_words
        elif len(qs) == 1 and qs[0].explicit:
            seg.lone_quantity = qs[0]
        return seg

    specific = {e.skus[0] for e in products if not e.generic}
    if specific and sum(1 for e in els if e.kind == "Q" and e.explicit) <= 1:
        # "chamal matra 2 bora mota": the generic word names the product already there
        els = [e for e in els if not (e.kind == "P" and e.generic and any(s in specific for s in e.skus))]
    if words and not any(e.kind == "Q" for e in els):
        # "chhurpi 2 kg, tourist aauna thale": a guessed product among unknown words, with no
        # quantity, is one more unknown word
        els = [El("W", e.i, e.j) if e.kind == "P" and e.how == "fuzzy" else e for e in els]
        seg.loose_words = sum(1 for e in els if e.kind == "W")
        products = [e for e in els if e.kind == "P"]
        if not products:
            seg.words = span(words[0].i, words[-1].j)
            return seg
    pairs = _pair(els)
    if seg.each:
        # "chini ra dal dubai 2-2 kg", "chini dal 2 kg each": one quantity for every product
        each_q = [m for m, el in enumerate(els) if el.kind == "Q" and el.explicit]
        if len(each_q) == 1:
            for m, el in enumerate(els):
                if el.kind == "P" and m not in pairs:
                    pairs[m] = each_q[0]
    negated = _negated(els, pairs, negations, keys)
    resolved = {e.skus[0] for e in products if not e.generic}
    for n_el, e in enumerate(els):
        if e.kind != "P":
            continue
        if n_el in negated:
            seg.negated.append((span(e.i, e.j), e.skus[0] if len(e.skus) == 1 else None))
            continue
        q = els[pairs[n_el]] if n_el in pairs else None
        if e.generic and q is None and any(s in resolved for s in e.skus):
            continue  # "sona mansuli ... rice": the generic word names a product already there
        quantity = q.value if q is not None and q.value is not None else _ONE
        written_unit = q.unit if q is not None else None
        skus = e.skus
        if len(skus) > 1 and written_unit in PACKAGING_UNITS:
            fitting = tuple(s for s in skus if cat.unit_of(s) == written_unit)
            if len(fitting) == 1:
                skus = fitting
            elif fitting:
                skus = fitting + tuple(s for s in skus if s not in fitting)
        matched = span(e.i, e.j)
        if q is not None:
            why = reason(q)
            if not why and len(skus) == 1 and quantity > max_quantity(written_unit or cat.unit_of(skus[0])):
                why = "too_large"
            if why:
                seg.refused.append(Refused(written(q), why, skus[0] if len(skus) == 1 else None, matched, written_unit))
                continue
        strong = q is not None and q.explicit and (q.unit is not None or abs(pairs[n_el] - n_el) == 1)
        if len(skus) == 1:
            seg.items.append(
                Item(
                    skus[0],
                    quantity,
                    written_unit or cat.unit_of(skus[0]),
                    matched,
                    q is not None and q.explicit,
                    strong,
                )
            )
        else:
            seg.ambiguities.append(Ambig(matched, skus))
    # quantities left over next to unknown words: "... 5 kg paneer"
    for n_el, e in enumerate(els):
        if e.kind == "Q" and e.explicit and n_el not in pairs.values():
            near = [els[m] for m in (n_el - 1, n_el + 1) if 0 <= m < len(els) and els[m].kind == "W"]
            if near:
                seg.unmatched.append(span(near[0].i, near[0].j))
    return seg


def _sizes_in_names(els: list[El], keys: list[str], cat: Catalog) -> list[El]:
    """A size beside a product that names it is part of the name, not a quantity: "sintex 500 litre
    tank 1 ta" (the alias "sintex 500" ends in its size, "litre" is the rest of it), "20 litre tractor
    2 ta", "coke 500ml 3 case" (a second quantity is there for the order; the size picks the variety)."""
    if not any(e.kind == "Q" for e in els) or not any(e.kind == "P" for e in els):
        return els
    explicit = sum(1 for e in els if e.kind == "Q" and e.explicit)
    # products side by side are one name ("sintex tank"): count runs
    products = sum(1 for n, e in enumerate(els) if e.kind == "P" and (n == 0 or els[n - 1].kind != "P"))
    out = list(els)
    m = 0
    while m < len(out):
        e = out[m]
        if e.kind != "Q" or e.unit is None:
            m += 1
            continue
        for side in (m - 1, m + 1):
            p = out[side] if 0 <= side < len(out) else None
            if p is None or p.kind != "P":
                continue
            if not e.explicit:  # a bare unit right after a name that ends in a number
                if side != m - 1 or not keys[p.j - 1].isdigit():
                    continue
                value = Decimal(keys[p.j - 1])
            elif explicit > products and e.value is not None:
                value = e.value
            else:
                continue
            fitting = cat.sized(p.skus, value, e.unit)
            if not fitting:
                continue
            how = p.how if len(fitting) == len(p.skus) else ("exact" if len(fitting) == 1 else "token")
            out[side] = El("P", min(p.i, e.i), max(p.j, e.j), skus=fitting, how=how)
            del out[m]
            if e.explicit:
                explicit -= 1
            break
        else:
            m += 1
    return out


def _negates(keys: list[str], i: int) -> bool:
    k = keys[i]
    if k in lx.NEGATION_WORDS or (len(k) >= 5 and k.startswith(lx.NEGATION_PREFIXES)):
        return True
    before = keys[max(0, i - 3) : i]
    if k in lx.ENOUGH_WORDS and any(b in ("ahile", "अहिले", "ahilelai") for b in before):
        return True  # "timur ahile pugcha": there is enough for now
    after = keys[i + 1 : i + 3]
    return k in lx.NOT_THERE_WORDS and any(a.startswith(("chahi", "chai", "चाहि")) for a in after)


def _negated(els: list[El], pairs: dict[int, int], negations: list[int], keys: list[str]) -> set[int]:
    """Products a negation word takes back. "X chaidaina" takes the product(s) before it, back to
    one that has its own quantity ("12 carton shikhar, besar chaidaina" keeps the shikhar);
    "don't send X" takes the products after it."""
    out: set[int] = set()
    products = [m for m, e in enumerate(els) if e.kind == "P"]
    for t in negations:
        after = [m for m in products if els[m].i > t]
        back = [m for m in reversed(products) if els[m].i < t]
        scope = (after or back) if keys[t] in lx.PRE_NEGATION_WORDS else (back or after)
        for n, m in enumerate(scope):
            has_quantity = m in pairs and els[pairs[m]].explicit
            if n > 0 and has_quantity:
                break
            out.add(m)
            if has_quantity:
                break
    return out


def _drop_times(els: list[El], keys: list[str]) -> list[El]:
    """ "5 baje", "2 din", "3 ghanta": a number of hours or days is not a quantity of anything."""
    out: list[El] = []
    skip = False
    for n, e in enumerate(els):
        if skip:
            skip = False
            continue
        nxt = els[n + 1] if n + 1 < len(els) else None
        if e.kind == "N" and nxt is not None and nxt.kind in ("W", "F") and keys[nxt.i] in lx.TIME_WORDS:
            skip = True
            continue
        out.append(e)
    return out


def _size_tokens(toks: list[Token]) -> int:
    """How many tokens at the start are a size: "12 mm", "half inch", "15 w", "½ inch"."""
    n = 0
    while n + 1 < len(toks) and (toks[n].kind in ("n", "v") or toks[n].key in lx.HALF_WORDS):
        if toks[n + 1].key not in lx.SIZE_WORDS or toks[n + 1].key in lx.UNIT_WORDS:
            break  # "2 kg" is a quantity, not a size
        n += 2
    return n


def _shared_names(cut: list[list[Token]]) -> list[list[Token]]:
    """Sizes of one product written once: "8mm, 10mm ra 12mm rod" (the name after the last size) and
    "philips 9w ra 15w" (the name before the first): each size gets the shared words."""
    if len(cut) < 2:
        return cut
    out = list(cut)
    for k in range(len(out) - 2, -1, -1):  # from the end: "8mm, 10mm ra 12mm rod" passes "rod" back
        toks = out[k]
        if _size_tokens(toks) != len(toks):
            continue
        nxt = out[k + 1]
        start = _size_tokens(nxt)
        name: list[Token] = []
        for t in nxt[start:] if start else ():
            if t.kind != "w" or t.key in lx.UNIT_WORDS or t.key in lx.NUMBER_WORDS or t.key in lx.EACH_WORDS:
                break
            name.append(t)
        if name:
            out[k] = toks + name
    for k in range(1, len(out)):
        toks = out[k]
        size = _size_tokens(toks)
        if not size or any(
            t.kind == "w" and not (t.key in lx.UNIT_WORDS or t.key in lx.EACH_WORDS or t.key in lx.FILLER)
            for t in toks[size:]
        ):
            continue  # only a size, with its quantity: "15w 5 ta", "15w dubai 10-10 ta"
        prev = out[k - 1]
        lead = 0
        while lead < len(prev) and prev[lead].kind == "w" and prev[lead].key not in lx.NUMBER_WORDS:
            lead += 1
        if 0 < lead < len(prev) and _size_tokens(prev[lead:]):  # "philips 9w": the brand before it
            out[k] = prev[:lead] + toks
    return out


def parse_order(low: str, original: str, cat: Catalog, prep: Prepared | None = None) -> OrderLines:
    """Order lines of a message; `low` is the lower-cased `original` (same offsets), `prep` what
    `prepare` marked in it (when given, `low` is expected to be `prep.low`)."""
    result = OrderLines()
    cut = _shared_names([toks for toks in segments(low, cat) if toks])
    segs = [_segment(toks, original, cat, prep) for toks in cut]
    loose_words: list[str] = []
    last_item: Item | None = None
    pending: list[Item] = []  # items still without a written quantity, for a following "dubai 2-2 kg"
    each_item: Item | None = None  # an item whose quantity was said to be for each
    product_lines: set[int] = set()
    for seg, toks in zip(segs, cut, strict=True):
        result.loose_words += seg.loose_words
        result.talk.extend(seg.talk)
        result.refused.extend(seg.refused)
        result.negated.extend(text for text, _sku in seg.negated)
        result.negated_skus.extend(sku for _text, sku in seg.negated if sku)
        result.quantity_seen = result.quantity_seen or seg.has_quantity
        if seg.items or seg.ambiguities:
            product_lines.add(low.count("\n", 0, toks[0].start))
        if seg.lone_quantity is not None and seg.each and pending:
            q = seg.lone_quantity  # "chini ra dal, each 2 kg"
            for it in pending:
                it.quantity, it.unit, it.explicit, it.strong = q.value or _ONE, q.unit or it.unit, True, True
            pending = []
            continue
        if seg.lone_quantity is not None and last_item is not None and not last_item.explicit:
            q = seg.lone_quantity
            last_item.quantity = q.value or _ONE
            last_item.unit = q.unit or last_item.unit
            last_item.explicit = True
            last_item.strong = True
            continue
        if each_item is not None:  # "2 kg each of chini and dal": the products after it too
            for it in seg.items:
                if not it.explicit:
                    it.quantity, it.unit, it.explicit, it.strong = each_item.quantity, each_item.unit, True, True
        if seg.each and seg.items and all(it.explicit for it in seg.items):
            q_item = seg.items[-1]
            for it in pending:
                it.quantity, it.unit, it.explicit, it.strong = q_item.quantity, q_item.unit, True, True
            pending = []
            each_item = q_item
        result.items.extend(seg.items)
        result.ambiguities.extend(seg.ambiguities)
        result.unmatched.extend(seg.unmatched)
        if seg.words:
            loose_words.append(seg.words)
        if seg.items:
            last_item = seg.items[-1]
            pending = pending + seg.items if not any(it.explicit for it in seg.items) else []
        elif seg.ambiguities:
            last_item = None
    result.list_lines = len(product_lines)
    # "rato chamal 5 kg, jumla ko": a product named again without a quantity is the same line
    written = {it.sku for it in result.items if it.explicit}
    result.items = [it for it in result.items if it.explicit or it.sku not in written]
    result.loose = loose_words
    if result.found and loose_words:
        result.unmatched.extend(loose_words)
    return result
