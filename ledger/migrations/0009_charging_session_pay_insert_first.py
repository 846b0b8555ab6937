"""The one-statement payment (migration 0007) without a planner-dependent duplicate check on its happy path.

0007 answered 409 with `EXISTS (… WHERE partner_id = ? AND external_id = ?)` before anything else. On statistics
taken before the partner's payments (autovacuum off, or a new partner on a big ledger) the planner answered that
with an index leading with partner_id and read the partner's whole history on every payment: the load benchmark
slowed from 700 to 250 payments/s as the ledger grew. Now, in the same contract order:

1. the API key (AUTHORIZATION_INVALID); 2. the link: without one, the id is looked up only to choose 409 over 404;
3. the transaction row: INSERT … ON CONFLICT DO NOTHING on UNIQUE(partner, external_id), whose arbiter is the unique
   index itself (TRANSACTION_ALREADY_PROCESSED; a concurrent duplicate waits for the first one's commit);
4. the debit, a conditional UPDATE of the customer's KM wallet; when the balance is short, RAISE with SQLSTATE CP422
   (the balance in DETAIL) so the statement's transaction (or the caller's savepoint) undoes the row of step 3;
5. the two entries.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION ledger_charging_session_pay(
    p_access_key_id text,
    p_partner_code text,
    p_partner_id bigint,
    p_external_user_id text,
    p_external_id text,
    p_kilometer bigint,
    p_reference text,
    p_evse_id text,
    p_service_data jsonb,
    p_created_at timestamptz,
    OUT o_outcome text,
    OUT o_transaction_id bigint,
    OUT o_partner_id bigint,
    OUT o_partner_name text,
    OUT o_customer_id bigint,
    OUT o_available bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_wallet_id bigint;
    v_partner_account_id bigint;
BEGIN
    IF p_kilometer IS NULL OR p_kilometer <= 0 THEN
        RAISE EXCEPTION 'a payment debits a positive number of kilometers, not %', p_kilometer
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_access_key_id IS NOT NULL THEN
        SELECT p.id, p.name INTO o_partner_id, o_partner_name
          FROM accounts_partnerapikey k JOIN accounts_partner p ON p.id = k.partner_id
         WHERE k.access_key_id = p_access_key_id AND k.revoked_at IS NULL AND p.is_active AND p.code = p_partner_code;
        IF NOT FOUND THEN
            o_outcome := 'AUTHORIZATION_INVALID';
            RETURN;
        END IF;
    ELSE
        SELECT p.id, p.name INTO STRICT o_partner_id, o_partner_name FROM accounts_partner p WHERE p.id = p_partner_id;
    END IF;

    SELECT a.id, a.customer_id INTO v_wallet_id, o_customer_id
      FROM accounts_partnerlink l
      JOIN ledger_account a ON a.customer_id = l.customer_id AND a.kind = 'WALLET' AND a.unit = 'KM'
     WHERE l.partner_id = o_partner_id AND l.external_user_id = p_external_user_id AND l.status = 'LINKED';
    IF NOT FOUND THEN
        -- 409 comes before 404: only this refusal needs to look for the id.
        IF EXISTS (SELECT 1 FROM ledger_transaction t WHERE t.partner_id = o_partner_id AND t.external_id = p_external_id) THEN
            o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        ELSE
            o_outcome := 'REFERENCED_OBJECT_NOT_FOUND';
        END IF;
        o_customer_id := NULL;
        RETURN;
    END IF;

    SELECT a.id INTO STRICT v_partner_account_id
      FROM ledger_account a WHERE a.kind = 'PARTNER' AND a.partner_id = o_partner_id AND a.unit = 'KM';

    -- The duplicate check is the insert itself, through the unique index (the arbiter of ON CONFLICT; no plan to
    -- choose, whatever the statistics say): a request with the same id committed before finds it; one still in
    -- flight makes this wait for its commit, then finds it.
    INSERT INTO ledger_transaction
        (kind, status, customer_id, partner_id, external_id, reference, evse_id, service_data,
         reverses_id, created_by_id, reason, created_at)
    VALUES
        ('PAY_FOR_CHARGING_SESSION', 'CONFIRMED', o_customer_id, o_partner_id, p_external_id, p_reference, p_evse_id,
         p_service_data, NULL, NULL, '', p_created_at)
    ON CONFLICT (partner_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id INTO o_transaction_id;
    IF o_transaction_id IS NULL THEN
        o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        RETURN;
    END IF;

    -- The debit: the row lock and the balance check in one statement (the CHECK constraint stays the backstop).
    UPDATE ledger_account SET balance = balance - p_kilometer WHERE id = v_wallet_id AND balance >= p_kilometer;
    IF NOT FOUND THEN
        -- Refused: the error undoes the transaction row inserted above (the caller's statement, or its savepoint).
        SELECT a.balance INTO o_available FROM ledger_account a WHERE a.id = v_wallet_id;
        RAISE EXCEPTION 'ACCOUNT_BALANCE_NOT_SUFFICIENT'
            USING ERRCODE = 'CP422', DETAIL = o_available::text, HINT = 'kilometer payment refused';
    END IF;

    INSERT INTO ledger_entry (transaction_id, account_id, amount)
    VALUES (o_transaction_id, v_wallet_id, -p_kilometer), (o_transaction_id, v_partner_account_id, p_kilometer);
    o_outcome := 'CONFIRMED';
END $$;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION ledger_charging_session_pay(
    p_access_key_id text,
    p_partner_code text,
    p_partner_id bigint,
    p_external_user_id text,
    p_external_id text,
    p_kilometer bigint,
    p_reference text,
    p_evse_id text,
    p_service_data jsonb,
    p_created_at timestamptz,
    OUT o_outcome text,
    OUT o_transaction_id bigint,
    OUT o_partner_id bigint,
    OUT o_partner_name text,
    OUT o_customer_id bigint,
    OUT o_available bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_wallet_id bigint;
    v_partner_account_id bigint;
BEGIN
    IF p_kilometer IS NULL OR p_kilometer <= 0 THEN
        RAISE EXCEPTION 'a payment debits a positive number of kilometers, not %', p_kilometer
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_access_key_id IS NOT NULL THEN
        SELECT p.id, p.name INTO o_partner_id, o_partner_name
          FROM accounts_partnerapikey k JOIN accounts_partner p ON p.id = k.partner_id
         WHERE k.access_key_id = p_access_key_id AND k.revoked_at IS NULL AND p.is_active AND p.code = p_partner_code;
        IF NOT FOUND THEN
            o_outcome := 'AUTHORIZATION_INVALID';
            RETURN;
        END IF;
    ELSE
        SELECT p.id, p.name INTO STRICT o_partner_id, o_partner_name FROM accounts_partner p WHERE p.id = p_partner_id;
    END IF;

    IF EXISTS (SELECT 1 FROM ledger_transaction t WHERE t.partner_id = o_partner_id AND t.external_id = p_external_id) THEN
        o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        RETURN;
    END IF;

    SELECT a.id, a.customer_id INTO v_wallet_id, o_customer_id
      FROM accounts_partnerlink l
      JOIN ledger_account a ON a.customer_id = l.customer_id AND a.kind = 'WALLET' AND a.unit = 'KM'
     WHERE l.partner_id = o_partner_id AND l.external_user_id = p_external_user_id AND l.status = 'LINKED';
    IF NOT FOUND THEN
        o_outcome := 'REFERENCED_OBJECT_NOT_FOUND';
        o_customer_id := NULL;
        RETURN;
    END IF;

    SELECT a.id INTO STRICT v_partner_account_id
      FROM ledger_account a WHERE a.kind = 'PARTNER' AND a.partner_id = o_partner_id AND a.unit = 'KM';

    UPDATE ledger_account SET balance = balance - p_kilometer WHERE id = v_wallet_id AND balance >= p_kilometer;
    IF NOT FOUND THEN
        -- A request with the same id that committed while this one waited for the wallet is still a duplicate.
        IF EXISTS (SELECT 1 FROM ledger_transaction t WHERE t.partner_id = o_partner_id AND t.external_id = p_external_id) THEN
            o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        ELSE
            o_outcome := 'ACCOUNT_BALANCE_NOT_SUFFICIENT';
            SELECT a.balance INTO o_available FROM ledger_account a WHERE a.id = v_wallet_id;
        END IF;
        RETURN;
    END IF;

    INSERT INTO ledger_transaction
        (kind, status, customer_id, partner_id, external_id, reference, evse_id, service_data,
         reverses_id, created_by_id, reason, created_at)
    VALUES
        ('PAY_FOR_CHARGING_SESSION', 'CONFIRMED', o_customer_id, o_partner_id, p_external_id, p_reference, p_evse_id,
         p_service_data, NULL, NULL, '', p_created_at)
    ON CONFLICT (partner_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id INTO o_transaction_id;
    IF o_transaction_id IS NULL THEN
        -- A concurrent request with the same id committed first: give this debit back, pay nothing.
        UPDATE ledger_account SET balance = balance + p_kilometer WHERE id = v_wallet_id;
        o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        RETURN;
    END IF;

    INSERT INTO ledger_entry (transaction_id, account_id, amount)
    VALUES (o_transaction_id, v_wallet_id, -p_kilometer), (o_transaction_id, v_partner_account_id, p_kilometer);
    o_outcome := 'CONFIRMED';
END $$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_transaction_partner_no_single_index")]

    operations = [migrations.RunPython(forward, reverse)]
