"""One module per intent. `handle_message` (handlers/dispatch.py) is the single entry the inbound job
calls, inside the job's unit of work: it takes who wrote and what they wrote, turns the parse into a
typed command (parsing/commands.py), routes it by type to its handler, and returns the replies to
send. A handler translates: command -> use case (usecases/) -> reply from the catalog; a refusal
comes back as a domain error's code, which handlers/errors.py renders in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sender:
    kind: str  # "retailer" | "wholesaler" | "unknown"
    phone: str  # E.164
    id: int | None = None
    language: str | None = None  # the language they chose themselves ("en" | "ne"); None: follow their script
    name: str | None = None
    default_language: str | None = None  # set by an admin, an import or the seed: for messages with no letters


@dataclass(frozen=True)
class Choice:
    """One tappable answer (a reply button or a list row), provider-neutral: `id` is the command
    text it stands for ("YES", "ACCEPT TK-AB12", "2"), so a tap and the typed text are one command;
    `title` is what the reader sees, in their language."""

    id: str
    title: str


@dataclass(frozen=True)
class Reply:
    to: str  # E.164
    body: str
    kind: str = "reply"  # "reply" answers within the 24-hour window; other kinds may need templates
    order_id: int | None = None
    retailer_id: int | None = None
    wholesaler_id: int | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    media_url: str | None = None  # a document sent with the text (the month's PDF statement)
    # Buttons or a list where WhatsApp shows them; the body still says the same as numbered text.
    choices: tuple[Choice, ...] = ()
