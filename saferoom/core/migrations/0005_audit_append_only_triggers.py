"""Database triggers that make the audit log append-only on SQLite and PostgreSQL: UPDATE and
DELETE of an audit event are refused, except DELETE of events at or before the latest sealed
retention checkpoint (the retention job removes old events that way); checkpoints themselves can
be neither changed nor removed. On PostgreSQL TRUNCATE is refused too. ``saferoom flush`` lifts
them while it empties the database (``audit_chain.triggers_suspended``).
"""

from typing import Any

from django.db import migrations

MESSAGE = "saferoom: the audit log is append-only"

SQLITE = [
    f"""CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
    WHEN OLD.id > COALESCE((SELECT MAX(through_id) FROM core_auditcheckpoint), 0)
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER core_auditcheckpoint_no_update BEFORE UPDATE ON core_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER core_auditcheckpoint_no_delete BEFORE DELETE ON core_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditevent_no_update",
    "DROP TRIGGER IF EXISTS core_auditevent_no_delete",
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_no_update",
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_no_delete",
]

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION core_auditevent_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.id <= COALESCE((SELECT MAX(through_id) FROM core_auditcheckpoint), 0) THEN
                RETURN OLD;
            END IF;
        END IF;
        RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$""",
    f"""CREATE OR REPLACE FUNCTION core_audit_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$""",
    """CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_guard()""",
    """CREATE TRIGGER core_auditevent_no_truncate BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION core_audit_refuse()""",
    """CREATE TRIGGER core_auditcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON core_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION core_audit_refuse()""",
    """CREATE TRIGGER core_auditcheckpoint_no_truncate BEFORE TRUNCATE ON core_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION core_audit_refuse()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
    "DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent",
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_append_only ON core_auditcheckpoint",
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_no_truncate ON core_auditcheckpoint",
    "DROP FUNCTION IF EXISTS core_auditevent_guard()",
    "DROP FUNCTION IF EXISTS core_audit_refuse()",
]


def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"No append-only audit triggers for the {vendor} database.")
    for statement in statements[vendor]:
        schema_editor.execute(statement, params=None)


def install(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": SQLITE, "postgresql": POSTGRESQL})


def remove(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE})


class Migration(migrations.Migration):
    dependencies = [("core", "0004_chain_existing_audit_events")]

    operations = [migrations.RunPython(install, remove)]
