"""thok.logging's faster pieces decide exactly as the slower ones they replaced: the phone pattern
with its (?=[+9]) prefix masks the same spans, and the per-second cached timestamp is datetime's."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from thok.logging import _PHONE, _timestamp, configure_logging, mask_phones, reset_context

# The pattern before the lookahead was added.
_OLD_PHONE = re.compile(r"(?<![\w+])(?:\+\d{8,15}|(?:977)?9[678]\d{8})(?![\w])")


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="+9876543210 aSx_:\n\"'-९", max_size=60))
@example("from whatsapp:+9779841234567")
@example("call 9841234567 or 9779851234567")
@example("x+9779841234567 9841234567b a9841234567 ++9841234567 +12345678 977984123456")
def test_the_phone_pattern_matches_the_same_spans(text: str) -> None:
    assert [m.span() for m in _PHONE.finditer(text)] == [m.span() for m in _OLD_PHONE.finditer(text)]


def test_masking_still_masks() -> None:
    assert mask_phones("to +9779841234567 and 9851234567\n9779861234567") == (
        "to +97798****4567 and +97798****4567\n+97798****4567"
    )


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
@example(1654241922.5789995)
@example(1700000000.9999996)
@example(1700000000.0005)
@example(0.0)
def test_the_timestamp_is_datetimes(created: float) -> None:
    assert _timestamp(created) == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_fields_masked_once_and_the_bookkeeping_never_printed() -> None:
    for fmt in ("json", "text"):
        buffer = io.StringIO()
        handler = configure_logging("INFO", fmt, stream=buffer)
        try:
            reset_context(to="9841234567")
            logging.getLogger("thok.test").info(
                "sent %s\n9779861234567", "+9779841234567", extra={"peer": "+9779841234567", "count": 2}
            )
        finally:
            reset_context()
            logging.getLogger().removeHandler(handler)
        out = buffer.getvalue()
        assert "_thok" not in out and "1234567" not in out and "4567" in out, out
        if fmt == "json":
            line = json.loads(out)
            assert line["msg"] == "sent +97798****4567\n+97798****4567" and line["peer"] == "+97798****4567"
            assert line["count"] == 2
        else:
            assert "peer=+97798****4567 count=2" in out, out


def test_a_phone_given_as_a_number_is_masked_and_the_line_stays_json() -> None:
    """A number that reads as a phone (in extra=, bound to the context, or inside a list) was
    masked in the written line without quotes: the line was no longer JSON."""
    import io
    import json
    import logging

    from thok.logging import JsonFormatter, MaskPhones, bind, reset_context

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskPhones())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("tests.log_masking.numbers")
    log.addHandler(handler)
    log.propagate = False
    try:
        reset_context()
        bind(shop=9779851234567)
        log.warning("paid", extra={"n": 9779851234567, "ids": [9851234567, 42], "amount": 2430, "ok": True})
    finally:
        log.removeHandler(handler)
        reset_context()
    line = json.loads(out.getvalue())
    assert "9851234567" not in out.getvalue()
    assert line["shop"] != 9779851234567 and line["n"].endswith("4567") and "*" in line["n"]
    assert line["ids"][1] == 42 and "*" in line["ids"][0]
    assert line["amount"] == 2430 and line["ok"] is True
