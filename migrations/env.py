"""Alembic environment. Thok builds its Alembic Config in code (`db.migrate`), so no alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from db.models import Base
from db.partitions import is_partition_name
from db.urls import to_psycopg_url

config = context.config
target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate cannot express monthly partitions: they are made at run time by
    `ledger_ensure_partition()` (migration 0003), so the models declare only the parent table and
    `thok db verify` checks the partitions instead."""
    return not (type_ == "table" and reflected and compare_to is None and name and is_partition_name(name))


def run_migrations_offline() -> None:
    context.configure(
        url=to_psycopg_url(config.get_main_option("sqlalchemy.url") or ""),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            transaction_per_migration=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(
        to_psycopg_url(config.get_main_option("sqlalchemy.url") or ""), poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            transaction_per_migration=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
