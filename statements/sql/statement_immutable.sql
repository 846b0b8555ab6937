-- A closed partner statement and its lines are never changed or deleted: what was billed stays billed.
CREATE OR REPLACE FUNCTION statements_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a closed partner statement (%) is never changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

DROP TRIGGER IF EXISTS statements_partnerstatement_immutable ON statements_partnerstatement;
CREATE TRIGGER statements_partnerstatement_immutable BEFORE UPDATE OR DELETE ON statements_partnerstatement
    FOR EACH ROW EXECUTE FUNCTION statements_immutable();

DROP TRIGGER IF EXISTS statements_statementline_immutable ON statements_statementline;
CREATE TRIGGER statements_statementline_immutable BEFORE UPDATE OR DELETE ON statements_statementline
    FOR EACH ROW EXECUTE FUNCTION statements_immutable();
