-- Audit records are never updated or deleted: the trail of staff actions is append-only, whatever the
-- application does.
-- A violation raises SQLSTATE 23514 (check_violation), which Django reports as IntegrityError.

CREATE OR REPLACE FUNCTION accounts_auditlog_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are immutable: % of record % refused', TG_OP, OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'auditlog_immutable';
END $$;

DROP TRIGGER IF EXISTS accounts_auditlog_immutable ON accounts_auditlog;
CREATE TRIGGER accounts_auditlog_immutable
    BEFORE UPDATE OR DELETE ON accounts_auditlog
    FOR EACH ROW EXECUTE FUNCTION accounts_auditlog_immutable();
