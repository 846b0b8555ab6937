-- Ledger transactions are never deleted, and the only change allowed is the one a reversal makes (DESIGN §6):
-- CONFIRMED → CANCELLED, every other column unchanged, once a reversal of that transaction exists (the reversal
-- is inserted first, in the same database transaction). Any other UPDATE or DELETE is refused.
-- A violation raises SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.

CREATE OR REPLACE FUNCTION ledger_transaction_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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

DROP TRIGGER IF EXISTS ledger_transaction_guard ON ledger_transaction;
CREATE TRIGGER ledger_transaction_guard
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_guard();
