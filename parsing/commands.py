"""What a message asks for, as one small typed command per intent (issue 14).

The parser's `Intent` is one bag for every intent (`intent: str` and the fields any of them might
use); `thok parse --jsonl` shows it as it is. The conversation acts on commands instead: `command_for`
turns a parse result into the dataclass of its intent, carrying only that intent's facts, and the
dispatcher routes by the command's type (handlers.dispatch.ROUTES). A parser intent with no command
type, or a command type with no handler, fails tests/test_usecases_orders.py, not a message at run
time. Some commands are the dispatcher's own reading of the conversation (a "2" answering the
draft's question is `Choose`, "pay 5000" is `Pay`): they are named here too, with the names the
message log records.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from parsing.parser import Ambiguity, BadQuantity, Intent, ParsedItem

# --- a retailer's -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOrder:
    """Items to put in the draft (the order is placed by a later YES)."""

    items: tuple[ParsedItem, ...]
    ambiguities: tuple[Ambiguity, ...] = ()
    unmatched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choose:
    """A number answering the draft's question ("2", "dosro"); the number is read from the text."""


@dataclass(frozen=True)
class ChangeDraft:
    """The summary's "Change": keep the draft, say how to change it."""


@dataclass(frozen=True)
class Confirm:
    """YES to the draft."""


@dataclass(frozen=True)
class Decline:
    """NO to the draft."""


@dataclass(frozen=True)
class Cancel:
    ref: str | None = None  # None: the draft waiting for YES, else the latest open order
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class Balance:
    """The khata (`hisab`), or the month's statement."""


@dataclass(frozen=True)
class Pay:
    """Pay the khata from the chat ("pay 5000"); the amount is read from the text."""


@dataclass(frozen=True)
class Reminders:
    """STOP / START payment reminders; which one is read from the text."""


@dataclass(frozen=True)
class Price:
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reorder:
    """The last delivered order again."""


@dataclass(frozen=True)
class RefusedQuantity:
    """An order whose quantities the parser refused: asked back, nothing ordered."""

    bad: tuple[BadQuantity, ...]


# --- a wholesaler's -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    ref: str | None
    price: Decimal | None = None
    delivery_days: int | None = None


@dataclass(frozen=True)
class Accept:
    ref: str | None


@dataclass(frozen=True)
class Pass:
    ref: str | None


@dataclass(frozen=True)
class Stock:
    items: tuple[ParsedItem, ...]
    quantity: Decimal | None


@dataclass(frozen=True)
class Paid:
    phone: str | None
    amount: Decimal | None
    method: str | None
    reference: str | None


@dataclass(frozen=True)
class Dispatched:
    ref: str | None


@dataclass(frozen=True)
class Delivered:
    ref: str | None


# --- anyone's -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    ref: str | None = None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Greeting:
    pass


@dataclass(frozen=True)
class SetLanguage:
    language: str | None  # "en" | "ne"; None: the language the message was written in


@dataclass(frozen=True)
class Unknown:
    pass


Command = (
    PlaceOrder
    | Choose
    | ChangeDraft
    | Confirm
    | Decline
    | Cancel
    | Balance
    | Pay
    | Reminders
    | Price
    | Reorder
    | RefusedQuantity
    | Offer
    | Accept
    | Pass
    | Stock
    | Paid
    | Dispatched
    | Delivered
    | Status
    | Help
    | Greeting
    | SetLanguage
    | Unknown
)
COMMAND_TYPES: tuple[type[Command], ...] = Command.__args__  # type: ignore[attr-defined]

# The name each command is logged under (inbound_messages.intent): the parser's intent names, and the
# dispatcher's own for what it reads from the conversation.
NAMES: dict[str, type[Command]] = {
    "order": PlaceOrder,
    "choose": Choose,
    "change": ChangeDraft,
    "confirm": Confirm,
    "decline": Decline,
    "cancel": Cancel,
    "balance": Balance,
    "pay": Pay,
    "reminders": Reminders,
    "price": Price,
    "reorder": Reorder,
    "bad_quantity": RefusedQuantity,
    "offer": Offer,
    "accept": Accept,
    "pass": Pass,
    "stock": Stock,
    "paid": Paid,
    "dispatched": Dispatched,
    "delivered": Delivered,
    "status": Status,
    "help": Help,
    "greeting": Greeting,
    "language": SetLanguage,
    "unknown": Unknown,
}


def name_of(command: Command) -> str:
    return next(name for name, kind in NAMES.items() if isinstance(command, kind))


def command_for(intent: Intent, name: str | None = None) -> Command:
    """The command a parse result stands for; `name` overrides the parser's intent where the
    dispatcher read the conversation ("choose", "pay", …). A name no command has is a bug."""
    kind = NAMES[name or intent.intent]
    ref = intent.order_ref
    if kind is PlaceOrder:
        return PlaceOrder(intent.items, intent.ambiguities, intent.unmatched)
    if kind is Cancel:
        return Cancel(ref, intent.products)
    if kind is Price:
        return Price(intent.products)
    if kind is RefusedQuantity:
        return RefusedQuantity(intent.bad_quantities)
    if kind is Offer:
        return Offer(ref, intent.price, intent.delivery_days)
    if kind in (Accept, Pass, Dispatched, Delivered, Status):
        return kind(ref)  # type: ignore[call-arg]
    if kind is Stock:
        return Stock(intent.items, intent.stock_quantity)
    if kind is Paid:
        return Paid(intent.phone, intent.amount, intent.method, intent.reference)
    if kind is SetLanguage:
        return SetLanguage(intent.language)
    return kind()  # type: ignore[call-arg]  # the commands with no facts of their own
