"""Dates as Nepal reads them: Bikram Sambat (BS) in Nepal time, the Gregorian date beside it where an
admin needs it. The conversion is `nepali-datetime`'s (its month-length table is maintained
upstream; a BS month has 29 to 32 days and no formula gives them).

A BS month spans two Gregorian months (Mangsir 2083 is 17 Nov - 15 Dec 2026), so a period is kept
as its first and last Gregorian day in Nepal, which is what the ledger's queries take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import nepali_datetime

from domain.errors import InvalidInput
from domain.money import digits_for

NEPAL = ZoneInfo("Asia/Kathmandu")

MONTHS_EN = (
    "Baisakh", "Jestha", "Asar", "Shrawan", "Bhadra", "Ashwin",
    "Kartik", "Mangsir", "Poush", "Magh", "Falgun", "Chaitra",
)  # fmt: skip
MONTHS_NE = ("बैशाख", "जेठ", "असार", "साउन", "भदौ", "असोज", "कात्तिक", "मंसिर", "पुस", "माघ", "फागुन", "चैत")

# How people write the month: the Sanskrit and colloquial names, romanised as they type them.
_MONTH_WORDS: dict[int, tuple[str, ...]] = {
    1: ("baisakh", "baishakh", "vaisakh", "baisak", "बैशाख", "वैशाख", "बैसाख"),
    2: ("jestha", "jeth", "jeshtha", "jyestha", "जेठ", "जेष्ठ", "ज्येष्ठ"),
    3: ("asar", "asadh", "ashadh", "ashar", "असार", "आषाढ", "अषाढ"),
    4: ("shrawan", "saun", "sawan", "srawan", "shravan", "साउन", "श्रावण", "सावन"),
    5: ("bhadra", "bhadau", "bhadau", "bhadrapad", "भदौ", "भाद्र"),
    6: ("ashwin", "asoj", "aswin", "ashoj", "असोज", "आश्विन", "आश्वीन"),
    7: ("kartik", "kattik", "kartika", "कात्तिक", "कार्तिक"),
    8: ("mangsir", "mansir", "mangshir", "marga", "मंसिर", "मङ्सिर", "मार्ग", "मँसिर"),
    9: ("poush", "push", "pus", "paush", "पुस", "पौष", "पूस"),
    10: ("magh", "maagh", "माघ"),
    11: ("falgun", "phalgun", "fagun", "phagun", "फागुन", "फाल्गुन"),
    12: ("chaitra", "chait", "chaite", "चैत", "चैत्र"),
}
_WORD_MONTH = {w: m for m, words in _MONTH_WORDS.items() for w in words}
_BS_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def nepal_now() -> datetime:
    return datetime.now(UTC).astimezone(NEPAL)


def nepal_day(moment: datetime | date) -> date:
    """The Gregorian day in Nepal (an aware datetime is moved to Nepal time first)."""
    if isinstance(moment, datetime):
        return (moment.astimezone(NEPAL) if moment.tzinfo else moment).date()
    return moment


def _bs(day: date) -> nepali_datetime.date:
    try:
        return nepali_datetime.date.from_datetime_date(day)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{day} is outside the Bikram Sambat calendar Thok knows") from None


def month_name(month: int, lang: str | None) -> str:
    return (MONTHS_NE if lang == "ne" else MONTHS_EN)[month - 1]


def bs_date(moment: datetime | date, lang: str | None) -> str:
    """'14 Mangsir 2083' / '१४ मंसिर २०८३'."""
    d = _bs(nepal_day(moment))
    return digits_for(f"{d.day} {month_name(d.month, lang)} {d.year}", lang)


def bs_iso(moment: datetime | date) -> str:
    """'2083-08-14': the BS date in a sortable column (CSV)."""
    d = _bs(nepal_day(moment))
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def admin_when(moment: datetime) -> str:
    """For admins: BS date, Gregorian date and Nepal time: '2083-08-14 (2026-11-30) 16:05'."""
    local = moment.astimezone(NEPAL)
    return f"{bs_iso(local)} ({local:%Y-%m-%d}) {local:%H:%M}"


@dataclass(frozen=True, order=True)
class BsMonth:
    """One Bikram Sambat month: the period a khata is kept and a statement covers."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidInput(f"a Bikram Sambat month is 1 to 12 (got {self.month})")
        if not nepali_datetime.MINYEAR <= self.year <= nepali_datetime.MAXYEAR:
            raise InvalidInput(
                f"{self.year} is outside the Bikram Sambat years Thok knows "
                f"({nepali_datetime.MINYEAR}-{nepali_datetime.MAXYEAR})"
            )

    @classmethod
    def parse(cls, raw: str) -> BsMonth:
        """'2083-08' (BS year and month), as `thok statement --month` and the dashboard take it."""
        m = _BS_MONTH.match(raw or "")
        if not m:
            raise InvalidInput(f"month {raw!r} is not a Bikram Sambat month like 2083-08")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, moment: datetime | date) -> BsMonth:
        d = _bs(nepal_day(moment))
        return cls(d.year, d.month)

    @classmethod
    def current(cls) -> BsMonth:
        return cls.containing(nepal_now())

    @property
    def first_day(self) -> date:
        """The Gregorian day (Nepal) the month starts."""
        return nepali_datetime.date(self.year, self.month, 1).to_datetime_date()

    @property
    def last_day(self) -> date:
        """The Gregorian day (Nepal) the month ends, inclusive."""
        return self.next().first_day - timedelta(days=1)

    def next(self) -> BsMonth:
        return BsMonth(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> BsMonth:
        return BsMonth(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def label(self, lang: str | None) -> str:
        """'Mangsir 2083' / 'मंसिर २०८३'."""
        return digits_for(f"{month_name(self.month, lang)} {self.year}", lang)


def month_in_text(text: str, today: date | None = None) -> BsMonth | None:
    """The BS month a message names ("hisab mangsir", "हिसाब कात्तिक", "kartik 2082"), or None.

    Without a year it is the latest such month not after this one: in Poush, "mangsir" is last
    month and "magh" is Magh of last year (nobody asks for a statement of a month to come)."""
    words = re.findall(r"[\w\u0900-\u097f]+", (text or "").lower())
    month = next((_WORD_MONTH[w] for w in words if w in _WORD_MONTH), None)
    if month is None:
        return None
    digits = [w.translate(str.maketrans("०१२३४५६७८९", "0123456789")) for w in words]
    year = next((int(w) for w in digits if w.isdigit() and len(w) == 4), None)
    now = BsMonth.containing(today or nepal_now())
    if year is None:
        year = now.year if month <= now.month else now.year - 1
    return BsMonth(year, month)
