"""What a web request needs (settings, database, Redis), as flaskr's `get_db()`: the app factory
puts one `Services` on the app, blueprints and the dashboard ask `services()` for it. Its own module
so that the factory imports the blueprints at the top and nothing imports the factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from db.session import Database
from thok.config import Settings

EXTENSION = "thok"  # the key in app.extensions


@dataclass
class Services:
    """What a request needs, built once per process by `bot.app.create_app`."""

    settings: Settings
    database: Database
    redis: Redis


def services() -> Services:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
