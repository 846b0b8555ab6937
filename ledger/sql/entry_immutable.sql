-- Ledger entries are never updated or deleted (DESIGN §6): a mistake is corrected by a new transaction (a
-- reversal), so the entries always tell what happened. Enforced here, whatever the application does.
-- A violation raises SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.

CREATE OR REPLACE FUNCTION ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_immutable';
END $$;

DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_entry;
CREATE TRIGGER ledger_entry_immutable
    BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_immutable();
