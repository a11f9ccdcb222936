-- Everything a batch changes, in one statement: the balances of the accounts
-- it locked, the accounts it opened, its transactions and their entries, the
-- orders it reserved or moved (as each ends), what its reversals add to the
-- transactions they reverse, and the stored answers of its idempotency keys. The schema's CHECKs still have the last word on every
-- balance; foreign keys are checked at the end of the statement, so a
-- transaction may name an account opened in the same statement.
WITH balances AS (
    UPDATE accounts AS a SET balance = a.balance + d.balance, reserved = a.reserved + d.reserved
    FROM unnest(?::uuid[], ?::numeric[], ?::numeric[]) AS d(id, balance, reserved)
    WHERE a.id = d.id
),
opened AS (
    INSERT INTO accounts (id, kind, user_id, currency, balance, reserved, created_at)
    SELECT o.id, 'user', o.user_id, o.currency, o.balance, o.reserved, o.created_at
    FROM unnest(?::uuid[], ?::bigint[], ?::text[], ?::numeric[], ?::numeric[], ?::timestamptz[])
         AS o(id, user_id, currency, balance, reserved, created_at)
),
transactions_written AS (
    INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, to_account_id,
                              order_id, service_id, service_name, reference, description, created_at,
                              created_by, reverses, from_balance_after, from_reserved_after,
                              to_balance_after, to_reserved_after)
    SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::text[],
                         ?::uuid[], ?::uuid[], ?::bigint[], ?::bigint[], ?::text[], ?::text[],
                         ?::text[], ?::timestamptz[], ?::text[], ?::uuid[], ?::numeric[],
                         ?::numeric[], ?::numeric[], ?::numeric[])
),
entries_written AS (
    INSERT INTO entries (transaction_id, account_id, bucket, amount)
    SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::numeric[])
),
orders_written AS (
    INSERT INTO reservations (order_id, account_id, service_id, service_name, amount, currency,
                              status, created_at, updated_at, captured_amount, expires_at)
    SELECT * FROM unnest(?::bigint[], ?::uuid[], ?::bigint[], ?::text[], ?::numeric[], ?::text[],
                         ?::text[], ?::timestamptz[], ?::timestamptz[], ?::numeric[],
                         ?::timestamptz[])
    ON CONFLICT (order_id) DO UPDATE
        SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
            captured_amount = EXCLUDED.captured_amount
),
reversed AS (
    UPDATE transactions AS t SET reversed_amount = t.reversed_amount + r.amount
    FROM unnest(?::uuid[], ?::numeric[]) AS r(id, amount)
    WHERE t.id = r.id
),
keys_written AS (
    INSERT INTO idempotency_keys (key, request_hash, response_status, response_body)
    SELECT * FROM unnest(?::text[], ?::bytea[], ?::int2[], ?::text[])
)
SELECT 1
