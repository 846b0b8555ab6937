"""The database enforces the ledger (PostgreSQL; SQLite is a quickstart only and gets the Django constraints).

- ledger_check_balanced: a deferred constraint trigger, at commit, on every new entry and transaction:
  the transaction has at least two entries and they sum to zero per unit.
- ledger_entry_immutable: entries are never updated or deleted.
- ledger_transaction_guard: transactions are never deleted; the only update allowed is CONFIRMED →
  CANCELLED with every other column unchanged, once a reversal of that transaction exists.
Violations raise SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    txn_id bigint;
    entry_count integer;
    bad record;
BEGIN
    IF TG_TABLE_NAME = 'ledger_entry' THEN
        txn_id := NEW.transaction_id;
    ELSE
        txn_id := NEW.id;
    END IF;
    SELECT count(*) INTO entry_count FROM ledger_entry WHERE transaction_id = txn_id;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % entries; at least 2 are required', txn_id, entry_count
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
    END IF;
    SELECT a.unit, sum(e.amount) AS total INTO bad
      FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id
     WHERE e.transaction_id = txn_id
     GROUP BY a.unit HAVING sum(e.amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: entries sum to %', txn_id, bad.unit, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON ledger_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE FUNCTION ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_immutable';
END $$;
CREATE TRIGGER ledger_entry_immutable
    BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_immutable();

CREATE FUNCTION ledger_transaction_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.status = 'CONFIRMED' AND NEW.status = 'CANCELLED'
       AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status')
       AND EXISTS (SELECT 1 FROM ledger_transaction r WHERE r.reverses_id = OLD.id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger transactions are immutable: % of transaction % refused', TG_OP, OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_immutable';
END $$;
CREATE TRIGGER ledger_transaction_guard
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS ledger_transaction_guard ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_transaction_guard();
DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_entry_immutable();
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_check_balanced();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


def create_system_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, unit in (("km_issuance", "KM"), ("km_adjustment", "KM")):
        Account.objects.get_or_create(kind="SYSTEM", code=code, defaults={"unit": unit})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(forward, reverse),
        migrations.RunPython(create_system_accounts, migrations.RunPython.noop),
    ]
