"""A charging-session payment in one database round trip (PostgreSQL; SQLite keeps the ORM path).

`ledger_charging_session_pay(...)` does, in one statement (its own transaction in autocommit mode), what
ledger.services.charging_session_pay does in nine queries, in the &Charge contract's order of checks:

1. the caller's API key is active, of an active partner with the token's partner code
   (skipped when the caller passes a partner id instead: internal callers) → AUTHORIZATION_INVALID;
2. the partner has no transaction with this id yet → TRANSACTION_ALREADY_PROCESSED;
3. the partner's userId is LINKED to a customer → REFERENCED_OBJECT_NOT_FOUND;
4. the debit: one conditional UPDATE of the customer's KM wallet (the row lock and the balance check in one
   statement; the CHECK constraint stays the backstop) → ACCOUNT_BALANCE_NOT_SUFFICIENT with the balance;
5. the transaction row: INSERT … ON CONFLICT DO NOTHING on UNIQUE(partner, external_id), so a concurrent
   request with the same id waits for the first and then finds it (its debit is given back, in its own
   transaction, before anything is visible) → TRANSACTION_ALREADY_PROCESSED;
6. the two entries (wallet -km, partner +km). The deferred trigger of migration 0002 checks at commit that
   they balance; the partner account is neither locked nor updated.

A refusal writes nothing (4: nothing was written yet; 5: the debit is undone in the same transaction).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION ledger_charging_session_pay(
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

REVERSE = """
DROP FUNCTION IF EXISTS ledger_charging_session_pay(text, text, bigint, text, text, bigint, text, text, jsonb, timestamptz);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_reconciliation")]

    operations = [migrations.RunPython(forward, reverse)]
