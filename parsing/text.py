"""Text clean-up, tokenising and word keys shared by the catalog index and the parser.

Every word that is compared with anything (catalog aliases, unit words, keywords) goes through
`word_key`, so both sides of a comparison are normalised the same way:
- Latin: lower case (the whole message is lower-cased before tokenising).
- Devanagari: spelling variants people mix freely are folded (chandrabindu/anusvara, nukta,
  long/short i and u, sha/ssa/sa, va/ba, nna/na, zero-width joiners), so चिनी == चिनि, पाँच == पांच.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

MAX_CHARS = 4000  # a WhatsApp message is at most 4096 characters; anything longer is cut
MAX_TOKENS = 600

DEV_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")

_DEV_FOLD = str.maketrans(
    {
        "\u0901": "\u0902",  # chandrabindu -> anusvara
        "\u093c": None,  # nukta
        "\u0940": "\u093f",  # ी -> ि
        "\u0942": "\u0941",  # ू -> ु
        "\u0908": "\u0907",  # ई -> इ
        "\u090a": "\u0909",  # ऊ -> उ
        "\u0936": "\u0938",  # श -> स
        "\u0937": "\u0938",  # ष -> स
        "\u0935": "\u092c",  # व -> ब
        "\u0923": "\u0928",  # ण -> न
        "\u0929": "\u0928",  # ऩ -> न
        "\u0931": "\u0930",  # ऱ -> र
        "\u200c": None,
        "\u200d": None,
    }
)

# Control characters other than newline/tab become spaces (keeps offsets stable).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_KG_DOTTED = re.compile(r"(?<![a-z])k\.\s?g\.?|के\.\s?जी\.?")

TOKEN_RE = re.compile(
    r"(?P<n>[0-9]{1,3}(?:,[0-9]{2})*,[0-9]{3}(?![0-9])|[1-3]/[24](?![0-9])|[0-9]+(?:\.[0-9]+)?)"
    r"|(?P<w>[a-z\u00df-\u00f6\u00f8-\u024f]+(?:'[a-z]+)?|[\u0900-\u0963\u0971-\u097f\u200c\u200d]+)"
    r"|(?P<s>[\n;|\u0964\u0965&+,/]|(?<=[a-z\u0900-\u097f])\.(?=\s|$))"
    r"|(?P<x>[×*])"
    r"|(?P<v>[½¼¾])"
)

_LATIN_LOOSE_H = re.compile(r"(?<=[bcdgjkpst])h")
_REPEAT = re.compile(r"(.)\1+")
_DEV_RANGE = ("\u0900", "\u097f")


class Token(NamedTuple):
    kind: str  # "n" number, "w" word, "s" separator, "x" multiplication sign, "v" vulgar fraction
    key: str  # normalised text (numbers: digits without thousands commas)
    start: int
    end: int


def clean(text: str) -> str:
    """Make any str safe and comparable: no lone surrogates, NFC, no control chars, ASCII digits."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    return text.translate(DEV_DIGITS)


def lower(text: str) -> str:
    """Lower case that keeps every character's offset (needed to quote the original text back)."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return _KG_DOTTED.sub(lambda m: ("kg" if m.group(0)[0] == "k" else "केजी").ljust(len(m.group(0))), low)


def is_devanagari(word: str) -> bool:
    return bool(word) and _DEV_RANGE[0] <= word[0] <= _DEV_RANGE[1]


def word_key(word: str) -> str:
    if word and ("\u0900" <= word[0] <= "\u097f" or word[0] in "\u200c\u200d"):
        return word.translate(_DEV_FOLD)
    return word


def loose_key(compact: str) -> str:
    """A phonetic key for romanised Nepali spelling variants: jeera/jira, cheeni/chini, dhara/dara."""
    if not compact or is_devanagari(compact):
        return compact
    s = compact.replace("ee", "i").replace("oo", "u").replace("z", "j").replace("w", "v").replace("q", "k")
    s = s.replace("ph", "f")
    s = _LATIN_LOOSE_H.sub("", s)
    return _REPEAT.sub(r"\1", s)


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Tokens of already cleaned and lower-cased text (between start and end)."""
    out: list[Token] = []
    for m in TOKEN_RE.finditer(text, start, len(text) if end is None else end):
        kind = m.lastgroup or "w"
        raw = m.group(0)
        if kind == "w":
            key = word_key(raw)
            if not key:
                continue
            cut = _postposition(key)
            if cut:  # "चिनीको" = "चिनी" + "को": the word and its postposition, each with its offsets
                stem = len(raw) - len(cut)
                out.append(Token("w", key[: len(key) - len(cut)], m.start(), m.start() + stem))
                out.append(Token("w", cut, m.start() + stem, m.end()))
                continue
        elif kind == "n":
            key = raw.replace(",", "")
        else:
            key = raw
        out.append(Token(kind, key, m.start(), m.end()))
        if len(out) >= MAX_TOKENS:
            break
    return out


_POSTPOSITIONS = ("को", "मा", "लाई")


def _postposition(key: str) -> str:
    """The Nepali postposition glued to a Devanagari word ("चिनीको", "कतिमा"), or ""."""
    if key and "\u0900" <= key[0] <= "\u097f":
        for p in _POSTPOSITIONS:
            if key.endswith(p) and len(key) > len(p) + 1:
                return p
    return ""


def phrase_keys(phrase: str) -> list[str]:
    """Word keys of a catalog alias or lexicon phrase, tokenised exactly like a message."""
    low = lower(clean(phrase))
    return [t.key for t in tokenize(low) if t.kind in ("w", "n")]


_DEV_LETTERS = re.compile(r"[\u0900-\u0963\u0971-\u097f]")
_LATIN_LETTERS = re.compile(r"[A-Za-z]")


def detect_script(text: str) -> str:
    """Return "devanagari" when the message has more Devanagari letters than Latin ones."""
    dev = len(_DEV_LETTERS.findall(text))
    if not dev:
        return "latin"
    return "devanagari" if dev > len(_LATIN_LETTERS.findall(text)) else "latin"
