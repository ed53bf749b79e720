"""Two database roles: the owner (migrations, archive) and the runtime role (web and worker).

PostgreSQL lets only a table's owner (or a superuser) disable or drop its triggers, replace their
functions, detach a partition or drop the table; GRANTs cannot give those rights away. So the
process that talks to the internet logs in as a role that owns nothing, and `thok db grant-runtime
ROLE` gives it exactly what web and worker use:

- SELECT, INSERT, UPDATE, DELETE on the live tables;
- SELECT only on the ledger, its idempotency keys and checkpoints, the archive and alembic_version:
  entries go in through `ledger_post()`, which runs as the owner (migration 0007);
- on the credit tables, no UPDATE of `outstanding` (only `ledger_post()` moves it, so a balance
  always agrees with the entries) nor DELETE; UPDATE of the limit and the holds (admins set
  limits from the dashboard; orders hold credit in domain/credit.py);
- EXECUTE on the khata's functions, found by querying, so a function a later migration adds is
  covered when the command is rerun (the release step does after every upgrade);
- no rights on sequences: identity columns need none, and nothing else calls nextval().

Rerunning is idempotent: every right of the role on our schemas is revoked first and granted
again, in one transaction, so a right removed from this list is removed from the role too.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection

# Read through the parent or by the khata functions; written only as the owner.
READ_ONLY_TABLES = ("ledger_entries", "ledger_idempotency_keys", "ledger_checkpoints", "alembic_version")
# The runtime role may update these columns of the credit tables and no others: `outstanding`
# (and any balance a later migration adds) belongs to ledger_post().
CREDIT_UPDATABLE = {
    "credit_accounts": ("credit_limit", "held", "updated_at"),
    "retailer_wholesaler_credits": ("credit_limit", "held", "updated_at"),
}
# Run with the owner's rights (migration 0007 sets them); kept in step with the migration.
DEFINER_FUNCTIONS = ("ledger_post", "ledger_ensure_partition", "ledger_default_months")
SCHEMAS = ("public", "archive")


class RoleError(RuntimeError):
    """The role cannot be the runtime role (missing, a superuser, the owner or one of its members)."""


@dataclass(frozen=True)
class Grants:
    role: str
    owner: str
    read_write: int
    read_only: int
    functions: int


def ledger_owner(conn: Connection) -> str:
    owner = conn.execute(
        text("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.ledger_entries'::regclass")
    )
    return str(owner.scalar_one())


def _ident(conn: Connection, name: str) -> str:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return sql.Identifier(name).as_string(raw)  # type: ignore[arg-type]


def _check_role(conn: Connection, role: str, owner: str) -> None:
    found = conn.execute(
        text("SELECT rolsuper, pg_has_role(:r, :o, 'MEMBER') FROM pg_roles WHERE rolname = :r"), {"r": role, "o": owner}
    ).first()
    if found is None:
        raise RoleError(f"role {role!r} does not exist: CREATE ROLE {role} LOGIN PASSWORD '...' first")
    superuser, member = found
    if superuser:
        raise RoleError(f"role {role!r} is a superuser: privileges do not bind it; use an ordinary login role")
    if member:
        raise RoleError(f"role {role!r} is {owner!r} or a member of it, so it has the owner's rights; use another role")


def _functions(conn: Connection) -> list[str]:
    """The khata's callable functions: every non-trigger function of schema public that no
    extension installed (trigger functions run as part of their table's statements)."""
    return list(
        conn.execute(
            text(
                """
                SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
                  AND p.prorettype <> 'trigger'::regtype
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                  AND d.objid = p.oid AND d.deptype = 'e')
                ORDER BY 1
                """
            )
        ).scalars()
    )


def grant_runtime(conn: Connection, role: str) -> Grants:
    """Give `role` exactly the runtime rights (see the module doc). Run as the owner; the caller
    commits (one transaction: the role never sits between its old and new rights)."""
    owner = ledger_owner(conn)
    user = conn.execute(text("SELECT current_user")).scalar()
    if not conn.execute(text("SELECT pg_has_role(current_user, :o, 'MEMBER')"), {"o": owner}).scalar():
        raise RoleError(f"grant-runtime runs as the owner {owner} (DATABASE_OWNER_URL), not as {user}")
    _check_role(conn, role, owner)
    r, o = _ident(conn, role), _ident(conn, owner)
    schemas = [s for s in SCHEMAS if conn.execute(text("SELECT to_regnamespace(:s)"), {"s": s}).scalar()]
    for schema in schemas:
        s = _ident(conn, schema)
        for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
            conn.execute(text(f"REVOKE ALL ON ALL {kind} IN SCHEMA {s} FROM {r}"))
        conn.execute(text(f"REVOKE ALL ON SCHEMA {s} FROM {r}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
    # SECURITY DEFINER functions are for the runtime role, not for every role of the cluster.
    for fn in conn.execute(
        text("SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prosecdef")
    ).scalars():
        conn.execute(text(f"REVOKE EXECUTE ON FUNCTION {fn} FROM PUBLIC"))

    tables = conn.execute(
        text(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p', 'v', 'm') AND NOT relispartition ORDER BY relname"
        )
    ).all()
    read_write = read_only = 0
    for name, kind in tables:
        t = _ident(conn, name)
        if name in READ_ONLY_TABLES or kind in ("v", "m"):
            conn.execute(text(f"GRANT SELECT ON {t} TO {r}"))
            read_only += 1
        elif name in CREDIT_UPDATABLE:
            cols = ", ".join(_ident(conn, c) for c in CREDIT_UPDATABLE[name])
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ({cols}) ON {t} TO {r}"))
            read_write += 1
        else:
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {r}"))
            read_write += 1
    functions = _functions(conn)
    for fn in functions:
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION {fn} TO {r}"))
    if "archive" in schemas:
        # Statements read archived months; `thok archive` (the owner) creates archive tables later.
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA archive TO {r}"))
        conn.execute(text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA archive GRANT SELECT ON TABLES TO {r}"))
        read_only += int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_class "
                    "WHERE relnamespace = 'archive'::regnamespace AND relkind IN ('r', 'p')"
                )
            ).scalar_one()
        )
    return Grants(role, owner, read_write, read_only, len(functions))


# Rights that would let a role change the ledger other than through ledger_post().
_TABLE_RIGHTS = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


def runtime_role_problems(conn: Connection, role: str) -> list[str]:
    """What `thok db verify` reports about the runtime role: anything that lets it alter the ledger
    or a balance behind ledger_post()'s back. Empty when the role is as grant-runtime leaves it."""
    owner = ledger_owner(conn)
    try:
        _check_role(conn, role, owner)
    except RoleError as exc:
        return [f"runtime role: {exc}"]
    problems: list[str] = []
    # One statement for every relation of our schemas: who owns it, and which of the rights that
    # alter a table's contents or behaviour the role holds on it.
    relations = conn.execute(
        text(
            """
            SELECT c.oid::regclass::text, c.relowner = r.oid,
                   c.oid IN ('public.ledger_entries'::regclass, 'public.ledger_idempotency_keys'::regclass,
                             'public.ledger_checkpoints'::regclass)
                   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'public.ledger_entries'::regclass)
                   OR c.relnamespace = to_regnamespace('archive'),
                   ARRAY(SELECT p FROM unnest(CAST(:rights AS text[])) p WHERE has_table_privilege(r.oid, c.oid, p))
            FROM pg_class c CROSS JOIN (SELECT oid FROM pg_roles WHERE rolname = :r) r
            WHERE c.relnamespace IN ('public'::regnamespace, to_regnamespace('archive'))
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
            ORDER BY 1
            """
        ),
        {"r": role, "rights": list(_TABLE_RIGHTS)},
    ).all()
    for table, owned, ledger, rights in relations:
        if owned:
            problems.append(f"runtime role {role} owns {table} (it could drop it or its triggers)")
        # The ledger: nothing but SELECT. Elsewhere DML is its job, but never TRUNCATE or TRIGGER.
        refused = rights if ledger else [p for p in rights if p in ("TRUNCATE", "TRIGGER")]
        if refused:
            problems.append(f"runtime role {role} has {', '.join(refused)} on {table}")
    for table, allowed in CREDIT_UPDATABLE.items():
        balances = conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
                "AND NOT attisdropped AND NOT attname = ANY(:allowed) "
                "AND has_column_privilege(:r, attrelid, attnum, 'UPDATE') ORDER BY attnum"
            ),
            {"r": role, "t": f"public.{table}", "allowed": list(allowed)},
        ).scalars()
        problems += [
            f"runtime role {role} may UPDATE {table}.{col} (ledger_post() moves the balances; "
            f"the role may update only {', '.join(allowed)})"
            for col in balances
        ]
    owned_functions = conn.execute(
        text(
            "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
            "AND proowner = (SELECT oid FROM pg_roles WHERE rolname = :r) ORDER BY 1"
        ),
        {"r": role},
    ).scalars()
    problems += [f"runtime role {role} owns function {fn} (it could replace it)" for fn in owned_functions]
    if conn.execute(text("SELECT has_schema_privilege(:r, 'public', 'CREATE')"), {"r": role}).scalar():
        problems.append(f"runtime role {role} may CREATE in schema public")
    return problems


def definer_problems(conn: Connection) -> list[str]:
    """A khata function that must run as the owner but does not, or resolves names through the
    caller's search_path (CREATE OR REPLACE resets both: rerun migration 0007's ALTERs)."""
    rows = conn.execute(
        text(
            """
            SELECT p.oid::regprocedure::text, p.prosecdef,
                   coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), false),
                   has_function_privilege('public', p.oid, 'EXECUTE')
            FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY(:names)
            ORDER BY 1
            """
        ),
        {"names": list(DEFINER_FUNCTIONS)},
    ).all()
    problems: list[str] = []
    for fn, definer, pinned, public in rows:
        if not definer:
            problems.append(f"function {fn} is not SECURITY DEFINER: the runtime role cannot post or make partitions")
        if not pinned:
            problems.append(f"function {fn} has no fixed search_path")
        if public:
            problems.append(f"function {fn} is executable by PUBLIC")
    return problems
