-- How a CO2 offset's kilometers were found is never updated or deleted: it is the record of the factor (and its
-- version) the offset paid by, whatever finance changes in the grid intensity table later.
-- A violation raises SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.

CREATE OR REPLACE FUNCTION ledger_co2computation_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'CO2 computations are immutable: % of the computation of transaction % refused', TG_OP, OLD.transaction_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_co2computation_immutable';
END $$;

DROP TRIGGER IF EXISTS ledger_co2computation_immutable ON ledger_co2computation;
CREATE TRIGGER ledger_co2computation_immutable
    BEFORE UPDATE OR DELETE ON ledger_co2computation
    FOR EACH ROW EXECUTE FUNCTION ledger_co2computation_immutable();
