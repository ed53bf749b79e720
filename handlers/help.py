"""`help`, `greeting`, `language`, `unknown`."""

from __future__ import annotations

from db.models import Retailer, Wholesaler
from domain.parties import set_language
from handlers import Reply
from handlers.context import Context
from parsing.commands import Command, Greeting, Help, SetLanguage, Unknown


def _name(ctx: Context) -> str:
    return f" {ctx.sender.name}" if ctx.sender.name else ""


def handle(ctx: Context, command: Help) -> list[Reply]:
    if ctx.sender.kind == "wholesaler":
        return [ctx.reply("wholesaler_help")]
    return [ctx.reply("help", name=_name(ctx))]


def greeting(ctx: Context, command: Greeting) -> list[Reply]:
    if ctx.sender.kind == "wholesaler":
        return [ctx.reply("wholesaler_help")]
    return [ctx.reply("greeting", name=_name(ctx))]


def language(ctx: Context, command: SetLanguage) -> list[Reply]:
    lang = command.language if command.language in ("en", "ne") else ctx.lang
    model = Retailer if ctx.sender.kind == "retailer" else Wholesaler
    party = ctx.session.get(model, ctx.sender.id)
    if isinstance(party, Retailer | Wholesaler):
        set_language(party, lang)
    return [Context(ctx.session, ctx.sender, ctx.settings, lang).reply("language_set")]


def unknown(ctx: Context, command: Unknown) -> list[Reply]:
    if ctx.sender.kind == "wholesaler":
        return [ctx.reply("wholesaler_help")]
    return [ctx.reply("unknown")]


def wholesaler_only(ctx: Context, command: Command) -> list[Reply]:
    return [ctx.reply("retailer_command_for_wholesaler")]
