-- transaction.confirmed for a partner's payment, recorded in the payment's own transaction.
-- The payment is one statement (ledger_charging_session_pay), so its event is written here rather than in Python:
-- no extra round trip on the hot path, and only when an enabled endpoint of the partner subscribes (one indexed
-- lookup; the same question as webhooks.selectors.partner_subscribed). The event's data is left empty: the
-- dispatcher renders the transaction as the &Charge API shows it (webhooks.services._event_data_render).
-- A partner's transaction is one with the partner's transactionId (external_id); reversals and grants have none.
CREATE OR REPLACE FUNCTION webhooks_payment_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.external_id IS NOT NULL AND NEW.partner_id IS NOT NULL AND NEW.status = 'CONFIRMED' AND EXISTS (
        SELECT 1 FROM webhooks_webhookendpoint
        WHERE partner_id = NEW.partner_id AND enabled AND event_types @> ARRAY['transaction.confirmed']::varchar[]
    ) THEN
        INSERT INTO accounts_partnerevent (event_id, partner_id, type, data, subject, created_at)
        VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.partner_id, 'transaction.confirmed', '',
                'ledger.transaction:' || NEW.id, clock_timestamp());
        -- The dispatcher is told by the sweeper; NOTIFY would need a listener, and the payment must stay one statement.
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS webhooks_payment_event ON ledger_transaction;
CREATE TRIGGER webhooks_payment_event AFTER INSERT ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION webhooks_payment_event();
