"""An immutable, pre-indexed snapshot of the product catalog for fast matching.

Indexes built once in `Catalog.__init__`:
- exact: concatenated word keys of every name/alias/sku ("wai wai" and "waiwai" both -> "waiwai")
  -> skus, plus the set of all prefixes of those keys, so the longest-match walk over a message
  stops as soon as no alias can start with what it has read;
- loose: the same under a phonetic key (jeera/jira, cheeni/chini, dhara/dara);
- token: each word of a multi-word alias -> skus ("chamal" -> every rice, "tel" -> every oil), used
  for generic words, which are reported as ambiguities rather than guessed;
- fuzzy: the loose keys bucketed by length for rapidfuzz, used only for words nothing else matched.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from os import PathLike
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from parsing import lexicon as lx
from parsing.text import Token, is_devanagari, loose_key, phrase_keys, word_key

MAX_CANDIDATES = 10
_PAREN = re.compile(r"\(([^)]*)\)")
# A size inside a product's name or alias: "Tractor Emulsion (20 L)", "Coke 500ml", "sintex 1000 litre".
_SIZE = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*([a-z]+|[\u0900-\u097f]+)")
_SIZE_CODES = {"inch": "inch", "inches": "inch", "in": "inch", "inchi": "inch", "mm": "mm", "watt": "watt",
               "watts": "watt", "w": "watt", "amp": "amp", "amps": "amp", "a": "amp"}  # fmt: skip


def size_code(word: str) -> str | None:
    """The measure a size is written in: a unit code ("ltr" -> litre) or a size word (inch, mm, watt)."""
    key = word_key(word.lower())
    return lx.UNIT_WORDS.get(key) or _SIZE_CODES.get(key)


def _sizes(entry: CatalogEntry) -> frozenset[tuple[Decimal, str]]:
    out: set[tuple[Decimal, str]] = set()
    for form in (entry.name, *entry.aliases):
        for m in _SIZE.finditer(form.lower()):
            code = size_code(m.group(2))
            if code is not None:
                out.add((Decimal(m.group(1)), code))
    return frozenset(out)


@dataclass(frozen=True)
class CatalogEntry:
    sku: str
    name: str
    name_ne: str | None
    aliases: tuple[str, ...]
    unit: str


def _reserved(key: str) -> bool:
    """Single words that must never be a whole alias (they are units, numbers or chat words)."""
    return (
        key in lx.FILLER
        or key in lx.UNIT_WORDS
        or key in lx.NUMBER_WORDS
        or key in lx.SEPARATOR_WORDS
        or key in lx.INTENT_PHRASES
        or key in lx.WHOLESALER_COMMANDS
        or key in lx.MULTIPLY_WORDS
    )


def _forms(entry: CatalogEntry) -> Iterator[str]:
    yield entry.name
    bare = _PAREN.sub(" ", entry.name).strip()
    if bare and bare != entry.name:
        yield bare
    for inner in _PAREN.findall(entry.name):
        if inner.strip() and not any(ch.isdigit() for ch in inner):
            yield inner
    if entry.name_ne:
        yield entry.name_ne
    yield from entry.aliases
    if "-" not in entry.sku and "_" not in entry.sku:
        yield entry.sku  # "SUGAR"; hyphenated skus are matched only as written (see sku_at)


def _all_prefixes(keys: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for k in keys:
        for i in range(1, len(k) + 1):
            out.add(k[:i])
    return frozenset(out)


def _add(index: dict[str, list[str]], key: str, sku: str) -> None:
    skus = index.setdefault(key, [])
    if sku not in skus:
        skus.append(sku)


class Catalog:
    """Immutable snapshot of the products, built once and reused for many messages."""

    def __init__(self, entries: Iterable[CatalogEntry]):
        by_sku: dict[str, CatalogEntry] = {}
        for e in entries:
            entry = CatalogEntry(
                sku=str(e.sku).strip().upper(),
                name=str(e.name).strip(),
                name_ne=(str(e.name_ne).strip() or None) if e.name_ne else None,
                aliases=tuple(str(a).strip() for a in (e.aliases or ()) if str(a).strip()),
                unit=lx.UNIT_WORDS.get(word_key(str(e.unit).strip().lower()), str(e.unit).strip().lower()),
            )  # a catalog may spell the unit its own way ("bag", "pkt", "pcs"): one code for each
            if entry.sku and entry.sku not in by_sku:
                by_sku[entry.sku] = entry
        self.entries: tuple[CatalogEntry, ...] = tuple(by_sku.values())
        self._by_sku = by_sku
        self._size = {e.sku: _sizes(e) for e in self.entries}
        self._order = {sku: i for i, sku in enumerate(by_sku)}
        self._sku_len = max((len(s) for s in by_sku), default=0)
        self._sku_parts = max((len(re.findall(r"[A-Z]+|[0-9]+", s)) for s in by_sku), default=0)

        exact: dict[str, list[str]] = {}
        bounds: dict[str, set[int]] = {}
        loose: dict[str, list[str]] = {}
        tokens: dict[str, list[str]] = {}
        chat: dict[str, list[str]] = {}
        fuzzy_pairs: dict[tuple[str, str], None] = {}
        forms: list[tuple[CatalogEntry, list[str]]] = []
        for entry in self.entries:
            for form in _forms(entry):
                keys = phrase_keys(form)
                if not keys or all(k.isdigit() for k in keys):
                    continue
                if len(keys) == 1 and _reserved(keys[0]):
                    continue
                forms.append((entry, keys))
                if len(keys) > 1:
                    for k in keys:
                        if k.isdigit() or (len(k) < 3 and not is_devanagari(k)):
                            continue
                        if _reserved(k):
                            if k in lx.FILLER or k in lx.INTENT_PHRASES:
                                _add(chat, k, entry.sku)
                            continue
                        _add(tokens, loose_key(k), entry.sku)
        # "Basmati Rice" is also "basmati", "जीरा मसिनो चामल" also "जीरा मसिनो": drop a trailing
        # generic word (one shared by 3+ products) to get the distinctive part of a name.
        generic = {k for k, v in tokens.items() if len(v) >= 3}
        taken = {"".join(keys): entry.sku for entry, keys in forms}
        extra: list[tuple[CatalogEntry, list[str]]] = []
        for entry, keys in forms:
            if len(keys) < 2 or loose_key(keys[-1]) not in generic:
                continue
            head = keys[:-1]
            if all(k.isdigit() or k in lx.SIZE_WORDS for k in head) or "".join(head) in taken:
                # "3 inch kanti" must not make "3 inch" the nail: a size names no product ("3 inch brush")
                continue  # "jeera chamal" must not make "jeera" the rice
            if len(head) == 1 and (_reserved(head[0]) or len(tokens.get(loose_key(head[0]), ())) > 1):
                continue  # "coke sano" must not make "coke" the crate
            extra.append((entry, head))
        # names made that way are shorter than anything the catalog wrote: a word beside them may
        # name another product ("roofing sheet" is not Roofing Kanti)
        self.derived: frozenset[str] = frozenset("".join(keys) for _e, keys in extra) - frozenset(taken)
        for entry, keys in forms + extra:
            compact = "".join(keys)
            _add(exact, compact, entry.sku)
            cuts = bounds.setdefault(compact, set())
            pos = 0
            for k in keys[:-1]:
                pos += len(k)
                cuts.add(pos)
            lk = loose_key(compact)
            _add(loose, lk, entry.sku)
            if len(lk) >= 3:
                fuzzy_pairs[(lk, entry.sku)] = None
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._bounds = {k: frozenset(v) for k, v in bounds.items()}
        # chat words that are also the distinctive word of one product ("hello" biscuit)
        self._chat = {k: tuple(v) for k, v in chat.items() if len(v) == 1}
        self._loose = {k: tuple(v) for k, v in loose.items()}
        self._tokens = {k: tuple(v) for k, v in tokens.items()}
        self._prefixes = _all_prefixes(self._exact)
        self.words: frozenset[str] = frozenset(k for _entry, keys in forms for k in keys)  # as written
        sku_words: dict[str, set[str]] = {}
        for entry, keys in forms:
            sku_words.setdefault(entry.sku, set()).update(k for k in keys if not k.isdigit())
        self._sku_words = {k: frozenset(v) for k, v in sku_words.items()}
        # "glow and lovely", "dal & bhat": a separator word inside a name does not cut the message there
        self.joined: frozenset[tuple[str, str, str]] = frozenset(
            (keys[n - 1], keys[n], keys[n + 1])
            for _entry, keys in forms
            for n in range(1, len(keys) - 1)
            if keys[n] in lx.SEPARATOR_WORDS
        )

        choices = [c for c, _ in fuzzy_pairs]
        skus = [s for _, s in fuzzy_pairs]
        by_len: dict[int, list[int]] = {}
        for i, c in enumerate(choices):
            by_len.setdefault(len(c), []).append(i)
        # Bucketed by length and by first and by last letter: a typo'd word keeps at least one of
        # its ends ("jeera masinno", "sugr"), so only those aliases need comparing (5,000 products
        # would otherwise mean tens of thousands of distances per unknown word).
        self._fuzzy: dict[tuple[int, str, str], tuple[list[str], list[str]]] = {}
        longest = max(by_len, default=0)
        for length in range(3, longest + 4):
            spread = max(2, length // 3)
            idx = [i for n in range(length - spread, length + spread + 1) for i in by_len.get(n, ())]
            ends: dict[tuple[int, str, str], list[int]] = {}
            for i in idx:
                ends.setdefault((length, "^", choices[i][0]), []).append(i)
                ends.setdefault((length, "$", choices[i][-1]), []).append(i)
            for key, members in ends.items():
                self._fuzzy[key] = ([choices[i] for i in members], [skus[i] for i in members])

    # --- construction helpers -----------------------------------------------------------------
    @classmethod
    def from_csv(cls, path: str | PathLike[str]) -> Catalog:
        """Read the products.csv format: sku,name,name_ne,aliases,unit[,category]."""
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            return cls.from_rows(csv.DictReader(fh))

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, str]]) -> Catalog:
        entries = []
        for row in rows:
            sku = (row.get("sku") or "").strip()
            if not sku:
                continue
            entries.append(
                CatalogEntry(
                    sku=sku,
                    name=(row.get("name") or "").strip() or sku,
                    name_ne=(row.get("name_ne") or "").strip() or None,
                    aliases=tuple(a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()),
                    unit=(row.get("unit") or "piece").strip().lower(),
                )
            )
        return cls(entries)

    @classmethod
    def from_tuples(cls, rows: Iterable[Sequence[object]]) -> Catalog:
        """From (sku, name, name_ne, aliases, unit) tuples, e.g. domain.catalog.catalog_entries()."""
        entries = []
        for sku, name, name_ne, aliases, unit in rows:
            entries.append(
                CatalogEntry(
                    str(sku),
                    str(name),
                    str(name_ne) if name_ne else None,
                    tuple(str(a) for a in aliases),  # type: ignore[attr-defined]
                    str(unit),
                )
            )
        return cls(entries)

    # --- lookups ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and sku.upper() in self._by_sku

    def get(self, sku: str) -> CatalogEntry | None:
        return self._by_sku.get(sku.upper())

    def unit_of(self, sku: str) -> str:
        return self._by_sku[sku].unit

    def rank(self, skus: Iterable[str]) -> tuple[str, ...]:
        """Candidates in catalog order (stable), at most MAX_CANDIDATES."""
        return tuple(sorted(set(skus), key=self._order.__getitem__)[:MAX_CANDIDATES])

    def longest(self, keys: Sequence[str], start: int, stop: int, loose: bool = False) -> tuple[int, tuple[str, ...]]:
        """Longest alias made of keys[start:j] (j <= stop); returns (j, skus) or (start, ())."""
        best_end = start
        best: tuple[str, ...] = ()
        if loose:
            acc = ""
            for j in range(start, min(stop, start + 6)):
                if not keys[j]:
                    break
                acc += keys[j]
                hit = self._loose.get(loose_key(acc))
                if hit:
                    best_end, best = j + 1, hit
        else:
            acc = ""
            prefixes, index = self._prefixes, self._exact
            cuts: list[int] = []
            j = start
            while j < stop:
                k = keys[j]
                if not k:
                    break
                if j > start:
                    cuts.append(len(acc))
                acc += k
                if acc not in prefixes:
                    break
                j += 1
                hit = index.get(acc)
                if hit and self._joinable(keys, start, cuts, acc):
                    best_end, best = j, hit
        if best and all(k.isdigit() for k in keys[start:best_end]):
            return start, ()
        return best_end, best

    def _joinable(self, keys: Sequence[str], start: int, cuts: list[int], acc: str) -> bool:
        """Words glued together to make an alias ("wai"+"wai" = "waiwai") must look like parts of
        a name, not "and"+"a" = "anda"."""
        natural = self._bounds.get(acc, frozenset())
        for n, cut in enumerate(cuts):
            if cut in natural:
                continue
            for k in (keys[start + n], keys[start + n + 1]):
                if not k.isdigit() and (len(k) < 2 or _reserved(k)):
                    return False
        return True

    def sku_at(self, text: str, toks: Sequence[Token], start: int) -> int:
        """End token index when the message spells a hyphenated sku at toks[start] ("RICE-JEERA",
        "noodle_rara"), else start. Only written skus count: "gram kalo" is not GRAM-KALO."""
        first = toks[start]
        if first.end >= len(text) or text[first.end] not in "-_":
            return start
        for end in range(start + 2, min(len(toks), start + self._sku_parts) + 1):
            span = text[first.start : toks[end - 1].end]
            if len(span) > self._sku_len:
                break
            if span.upper() in self._by_sku:
                return end
        return start

    def sized(self, skus: Iterable[str], value: Decimal, unit: str) -> tuple[str, ...]:
        """Those of skus whose name carries this size ("20 litre" -> Tractor Emulsion (20 L))."""
        return tuple(s for s in skus if (value, unit) in self._size.get(s, ()))

    def resembles(self, word: str, sku: str, cutoff: float = 60.0) -> bool:
        """Whether a word looks like one of the words of the product's names ("goodnite" ~ "knight",
        "ebeer" ~ "beer"), so that it is a misspelt part of that name rather than another product."""
        q = loose_key(word)
        words = self._sku_words.get(sku, frozenset())
        return any(fuzz.ratio(q, loose_key(w)) >= cutoff or fuzz.partial_ratio(q, loose_key(w)) >= 80 for w in words)

    def kind_words(self, sku: str) -> frozenset[str]:
        """Words of a product's names that several products share ("soap" of Dove Soap): its kind."""
        return frozenset(w for w in self._sku_words.get(sku, ()) if len(self.token_skus(w)) >= 2)

    def spelt(self, compact: str) -> tuple[str, ...]:
        """Products whose whole name sounds like these letters run together ("callgate" -> Colgate)."""
        return self._loose.get(loose_key(compact), ())

    def chat_word_skus(self, key: str) -> tuple[str, ...]:
        return self._chat.get(key, ())

    def token_skus(self, key: str) -> tuple[str, ...]:
        return self._tokens.get(loose_key(key), ())

    def fuzzy(self, compact: str, limit: int = 12) -> list[tuple[str, float]]:
        """(sku, similarity 0-100) for a typo'd fragment, best first; [] when nothing is close.

        Levenshtein distance on phonetic keys, at most 1 edit for 4-5 letters, 2 for 6-9, 3 beyond;
        only products at the smallest distance are returned (several of them = ambiguous).
        """
        q = loose_key(compact)
        n = len(q)
        if n < 4 or n > 60:
            return []
        max_edits = 1 if n <= 5 else 2 if n <= 9 else 3
        best: dict[str, float] = {}
        for key in ((n, "^", q[0]), (n, "$", q[-1])):
            bucket = self._fuzzy.get(key)
            if not bucket:
                continue
            choices, skus = bucket
            hits = process.extract(
                q, choices, scorer=Levenshtein.distance, processor=None, score_cutoff=max_edits, limit=limit
            )
            for choice, dist, i in hits:
                sim = 100.0 * (1.0 - dist / max(n, len(choice)))
                sku = skus[i]
                if sim > best.get(sku, -1.0):
                    best[sku] = sim
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], self._order[kv[0]]))
        return ranked
