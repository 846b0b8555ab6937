-- ledger_charging_session_pay: pay for a charging session with kilometers (DESIGN §3.2, §6) in one statement,
-- so in one round trip and, in autocommit, one database transaction. Its only caller is
-- ledger.services.charging_session_pay, which turns the outcome into the domain's errors.
--
-- p_kind is the &Charge service the customer pays with the same rules (§3.6): PAY_FOR_CHARGING_SESSION credits
-- the partner's kilometer account; CO2_OFFSET_CHARGING_SESSION and CO2_DONATION credit the km_co2_offset system
-- account (the kilometers buy offsets, the partner earns nothing). Either is a shared account, never locked.
--
-- The checks run in the &Charge contract's order (auth → already processed → user link → balance):
--
-- 1. The caller. With an API key (p_access_key_id), the key must be active (not revoked) and belong to the active
--    partner whose code is p_partner_code, else AUTHORIZATION_INVALID: checking it here makes a revocation stop
--    payments at once without costing the API a round trip of its own. A partner still INITIAL (registered, not
--    yet activated by staff) is ACCESS_DENIED, as on every other &Charge call.
--    With p_access_key_id NULL the caller is trusted code running in this process with no API key (tests, seed
--    data, benchmarks, management commands): the partner is the active partner with code p_partner_code, else
--    PARTNER_NOT_FOUND. Nothing else is skipped for it.
-- 2. The link: p_external_user_id must be LINKED to a customer by this partner. Without a link the answer is
--    REFERENCED_OBJECT_NOT_FOUND, unless the partner already has a transaction p_external_id (409 comes before
--    404). Only this refusal looks the id up; a payment that goes ahead leaves that to step 3.
-- 3. The transaction row. INSERT … ON CONFLICT DO NOTHING on UNIQUE(partner, external_id) is the duplicate
--    check: its arbiter is the unique index itself, so no query plan (and no stale statistics) can make it read
--    the partner's history. A request with the same id that committed earlier is found at once; one still in
--    flight makes this one wait for its commit, then it is found → TRANSACTION_ALREADY_PROCESSED.
-- 4. The debit: one conditional UPDATE of the customer's KM wallet takes the row lock and checks the balance
--    (the CHECK constraint on the balance stays the backstop). When the balance is short, RAISE with SQLSTATE
--    CP422 and the balance in DETAIL: the error undoes the row of step 3 (with the statement's transaction, or
--    the caller's savepoint), so a refused payment does not consume its id.
-- 5. The two entries: wallet −km, partner (or km_co2_offset) +km. The partner account is shared by every payment, so it is
--    neither locked nor updated; the deferred trigger of transaction_balanced.sql checks at commit that the
--    entries balance.
--
-- o_outcome is CONFIRMED, AUTHORIZATION_INVALID, ACCESS_DENIED, PARTNER_NOT_FOUND, TRANSACTION_ALREADY_PROCESSED or
-- REFERENCED_OBJECT_NOT_FOUND; an insufficient balance raises CP422 instead. Every refusal writes nothing.
-- A non-positive p_kilometer is a programming error (the API refuses it first) and raises check_violation.

CREATE OR REPLACE FUNCTION ledger_charging_session_pay(
    p_access_key_id text,       -- the caller's API key, or NULL for a trusted in-process caller (step 1)
    p_partner_code text,        -- the partner's code (the API's partnerId)
    p_external_user_id text,    -- the partner's userId of the customer
    p_external_id text,         -- the partner's transactionId, unique per partner
    p_kilometer bigint,         -- the amount to debit, > 0
    p_reference text,
    p_evse_id text,
    p_service_data jsonb,
    p_created_at timestamptz,   -- chosen by the caller, which answers with it without reading the row back
    p_kind text,                -- PAY_FOR_CHARGING_SESSION, CO2_OFFSET_CHARGING_SESSION or CO2_DONATION
    OUT o_outcome text,
    OUT o_transaction_id bigint,
    OUT o_partner_id bigint,
    OUT o_partner_name text,
    OUT o_customer_id bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_wallet_id bigint;
    v_partner_account_id bigint;
    v_available bigint;
    v_partner_status text;
BEGIN
    IF p_kilometer IS NULL OR p_kilometer <= 0 THEN
        RAISE EXCEPTION 'a payment debits a positive number of kilometers, not %', p_kilometer
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('PAY_FOR_CHARGING_SESSION', 'CO2_OFFSET_CHARGING_SESSION', 'CO2_DONATION') THEN
        RAISE EXCEPTION 'a customer pays a charging session, a CO2 offset or a donation, not %', p_kind
            USING ERRCODE = 'check_violation';
    END IF;

    -- 1. The caller.
    IF p_access_key_id IS NOT NULL THEN
        SELECT p.id, p.name, p.status INTO o_partner_id, o_partner_name, v_partner_status
          FROM accounts_partnerapikey k JOIN accounts_partner p ON p.id = k.partner_id
         WHERE k.access_key_id = p_access_key_id AND k.revoked_at IS NULL AND p.is_active AND p.code = p_partner_code;
        IF NOT FOUND THEN
            o_outcome := 'AUTHORIZATION_INVALID';
            RETURN;
        END IF;
        IF v_partner_status = 'INITIAL' THEN
            o_outcome := 'ACCESS_DENIED';
            o_partner_id := NULL;
            o_partner_name := NULL;
            RETURN;
        END IF;
    ELSE
        SELECT p.id, p.name INTO o_partner_id, o_partner_name
          FROM accounts_partner p
         WHERE p.code = p_partner_code AND p.is_active;
        IF NOT FOUND THEN
            o_outcome := 'PARTNER_NOT_FOUND';
            RETURN;
        END IF;
    END IF;

    -- 2. The link, and with it the customer's KM wallet.
    SELECT a.id, a.customer_id INTO v_wallet_id, o_customer_id
      FROM accounts_partnerlink l
      JOIN ledger_account a ON a.customer_id = l.customer_id AND a.kind = 'WALLET' AND a.unit = 'KM'
     WHERE l.partner_id = o_partner_id AND l.external_user_id = p_external_user_id AND l.status = 'LINKED';
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM ledger_transaction t WHERE t.partner_id = o_partner_id AND t.external_id = p_external_id) THEN
            o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        ELSE
            o_outcome := 'REFERENCED_OBJECT_NOT_FOUND';
        END IF;
        o_customer_id := NULL;
        RETURN;
    END IF;

    IF p_kind = 'PAY_FOR_CHARGING_SESSION' THEN
        SELECT a.id INTO STRICT v_partner_account_id
          FROM ledger_account a WHERE a.kind = 'PARTNER' AND a.partner_id = o_partner_id AND a.unit = 'KM';
    ELSE
        SELECT a.id INTO STRICT v_partner_account_id
          FROM ledger_account a WHERE a.kind = 'SYSTEM' AND a.code = 'km_co2_offset';
    END IF;

    -- 3. The transaction row, which is also the duplicate check.
    INSERT INTO ledger_transaction
        (kind, status, customer_id, partner_id, external_id, reference, evse_id, service_data,
         reverses_id, created_by_id, reason, created_at)
    VALUES
        (p_kind, 'CONFIRMED', o_customer_id, o_partner_id, p_external_id, p_reference, p_evse_id,
         p_service_data, NULL, NULL, '', p_created_at)
    ON CONFLICT (partner_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id INTO o_transaction_id;
    IF o_transaction_id IS NULL THEN
        o_outcome := 'TRANSACTION_ALREADY_PROCESSED';
        RETURN;
    END IF;

    -- 4. The debit.
    UPDATE ledger_account SET balance = balance - p_kilometer WHERE id = v_wallet_id AND balance >= p_kilometer;
    IF NOT FOUND THEN
        SELECT a.balance INTO v_available FROM ledger_account a WHERE a.id = v_wallet_id;
        RAISE EXCEPTION 'ACCOUNT_BALANCE_NOT_SUFFICIENT'
            USING ERRCODE = 'CP422', DETAIL = v_available::text, HINT = 'kilometer payment refused';
    END IF;

    -- 5. The entries.
    INSERT INTO ledger_entry (transaction_id, account_id, amount)
    VALUES (o_transaction_id, v_wallet_id, -p_kilometer), (o_transaction_id, v_partner_account_id, p_kilometer);
    o_outcome := 'CONFIRMED';
END $$;
