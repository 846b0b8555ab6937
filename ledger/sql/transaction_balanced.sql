-- Every ledger transaction has at least two entries, and they sum to zero per unit (DESIGN §6, double entry).
--
-- A constraint trigger deferred to COMMIT: the transaction row and its entries are inserted one statement at a
-- time, so the check can only be made once they are all there. It fires for each new transaction (one with no
-- entries at all is refused) and for each new entry. Entries and transactions cannot change afterwards
-- (entry_immutable.sql, transaction_guard.sql), so checking the inserts is enough.
-- A violation raises SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.

CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- A constraint trigger cannot be CREATE OR REPLACE'd: drop and create, in the migration's transaction.
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON ledger_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
