"""WhatsApp's reply buttons and list messages through Twilio's Content API.

Twilio sends a button or a list only as a content definition (`ContentSid`) filled in with
`ContentVariables`; it has to exist in the account first. Thok's definitions are generic, one per
shape: `thok_buttons_<n>` (twilio/quick-reply, n = 1..3 buttons) and `thok_list_<n>`
(twilio/list-picker, n = 1..10 rows), with the body, the titles and the ids all variables, so the
catalog's texts in either language fit any of them and nothing needs approving per message.
`thok content sync` creates what is missing, replaces a definition that changed, and records the
SIDs in Redis (`thok:content:sids`), where the channel reads them at send time.

What the Content API cannot do, and the fallback: a list picker is never approved for WhatsApp, so
it only goes inside the 24-hour window; quick replies outside it would need a template approved by
WhatsApp per text. Outside the window a message goes as the approved template of its kind
(TWILIO_TEMPLATE_<KIND>) or not at all, as before. Whenever a definition is missing (sync not run),
a title is too long, or a body is over 1,024 characters, the message goes as plain text, whose body
already names every choice as a numbered or typed answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import requests
from redis import Redis

CONTENT_API = "https://content.twilio.com"
SIDS_KEY = "thok:content:sids"
MAX_BUTTONS = 3  # WhatsApp's reply buttons
MAX_ROWS = 10  # WhatsApp's list rows
BUTTON_TITLE_MAX = 20
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
INTERACTIVE_BODY_MAX = 1024
QUICK_REPLY = "twilio/quick-reply"
LIST_PICKER = "twilio/list-picker"


def _buttons(n: int) -> dict[str, Any]:
    actions = [{"title": f"{{{{{2 * i + 2}}}}}", "id": f"{{{{{2 * i + 3}}}}}"} for i in range(n)]
    samples = {"1": "Your order: 2 bora basmati. Confirm?"}
    for i in range(n):
        samples[str(2 * i + 2)], samples[str(2 * i + 3)] = f"Choice {i + 1}", f"CHOICE{i + 1}"
    return {
        "friendly_name": f"thok_buttons_{n}",
        "language": "en",
        "variables": samples,
        "types": {QUICK_REPLY: {"body": "{{1}}", "actions": actions}, "twilio/text": {"body": "{{1}}"}},
    }


def _list(n: int) -> dict[str, Any]:
    items = [
        {"item": f"{{{{{3 * i + 3}}}}}", "id": f"{{{{{3 * i + 4}}}}}", "description": f"{{{{{3 * i + 5}}}}}"}
        for i in range(n)
    ]
    samples = {"1": "Which one do you mean by chamal?", "2": "Choose"}
    for i in range(n):
        samples[str(3 * i + 3)], samples[str(3 * i + 4)] = f"Product {i + 1}", str(i + 1)
        samples[str(3 * i + 5)] = f"Product {i + 1}"
    return {
        "friendly_name": f"thok_list_{n}",
        "language": "en",
        "variables": samples,
        "types": {
            LIST_PICKER: {"body": "{{1}}", "button": "{{2}}", "items": items},
            "twilio/text": {"body": "{{1}}"},
        },
    }


DEFINITIONS: tuple[dict[str, Any], ...] = tuple(_buttons(n) for n in range(1, MAX_BUTTONS + 1)) + tuple(
    _list(n) for n in range(1, MAX_ROWS + 1)
)


@dataclass(frozen=True)
class Interactive:
    content_sid: str
    variables: dict[str, str]


def interactive(
    body: str, choices: Sequence[tuple[str, str]], sids: Mapping[str, str], list_button: str = "Choose"
) -> Interactive | None:
    """The content definition and variables that show `choices` as buttons (up to 3 short titles) or
    a list (up to 10 rows); None: send plain text (too many, too long, or the definition not synced)."""
    if not choices or len(body) > INTERACTIVE_BODY_MAX or len(choices) > MAX_ROWS:
        return None
    if any(not cid or not title for cid, title in choices):
        return None
    if len(choices) <= MAX_BUTTONS and all(len(title) <= BUTTON_TITLE_MAX for _, title in choices):
        sid = sids.get(f"thok_buttons_{len(choices)}")
        variables = {"1": body}
        for i, (cid, title) in enumerate(choices):
            variables[str(2 * i + 2)], variables[str(2 * i + 3)] = title, cid
        return Interactive(sid, variables) if sid else None
    if not all(len(title) <= ROW_TITLE_MAX for _, title in choices):
        return None
    sid = sids.get(f"thok_list_{len(choices)}")
    variables = {"1": body, "2": list_button[:BUTTON_TITLE_MAX]}
    for i, (cid, title) in enumerate(choices):
        variables[str(3 * i + 3)], variables[str(3 * i + 4)] = title, cid
        variables[str(3 * i + 5)] = title[:ROW_DESCRIPTION_MAX]
    return Interactive(sid, variables) if sid else None


def recorded_sids(redis: Redis) -> dict[str, str]:
    raw: Mapping[Any, Any] = redis.hgetall(SIDS_KEY)  # type: ignore[assignment]
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class SyncReport:
    created: list[str]
    kept: list[str]
    replaced: list[str]
    sids: dict[str, str]


class ContentApi:
    """The few Content API calls sync needs: list, create, delete (JSON over HTTPS, basic auth)."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str | None = None, timeout: float = 10):
        self.base = (base_url or CONTENT_API).rstrip("/")
        self.http = requests.Session()
        self.http.auth = (account_sid, auth_token)
        self.timeout = timeout

    def list(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/v1/Content?PageSize=100"
        while url:
            response = self.http.get(url, timeout=self.timeout)
            response.raise_for_status()
            page = response.json()
            found += page.get("contents", [])
            url = (page.get("meta") or {}).get("next_page_url")
        return found

    def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base}/v1/Content",
            data=json.dumps(definition, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def delete(self, sid: str) -> None:
        response = self.http.delete(f"{self.base}/v1/Content/{sid}", timeout=self.timeout)
        if response.status_code != 404:  # gone already is what we wanted
            response.raise_for_status()


def _same(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return existing.get("types") == wanted["types"] and existing.get("language") == wanted["language"]


def sync(api: ContentApi, redis: Redis) -> SyncReport:
    """Make the account hold exactly Thok's definitions (by friendly name) and record their SIDs.
    Idempotent: run again, nothing is created; a definition that changed here is replaced (a content
    definition cannot be edited once created), and a duplicate left by an interrupted run deleted."""
    existing: dict[str, list[dict[str, Any]]] = {}
    for content in api.list():
        existing.setdefault(str(content.get("friendly_name")), []).append(content)
    report = SyncReport([], [], [], {})
    for definition in DEFINITIONS:
        name = definition["friendly_name"]
        matches = [c for c in existing.get(name, []) if _same(c, definition)]
        keep = matches[0] if matches else None
        for stale in existing.get(name, []):
            if stale is not keep:
                api.delete(str(stale["sid"]))
        if keep is not None:
            report.kept.append(name)
            report.sids[name] = str(keep["sid"])
            continue
        (report.replaced if existing.get(name) else report.created).append(name)
        report.sids[name] = str(api.create(definition)["sid"])
    pipe = redis.pipeline()
    pipe.delete(SIDS_KEY)
    pipe.hset(SIDS_KEY, mapping=cast(dict[Any, Any], report.sids))
    pipe.execute()
    return report
