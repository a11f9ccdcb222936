-- Everything a batch changes, in one statement: the balances of the accounts
-- it locked, the accounts it opened, its transactions and their entries, the
-- orders it reserved or moved (as each ends), what its reversals add to the
-- transactions they reverse, the stored answers of its idempotency keys, and
-- what its captures and refunds add to the revenue rollup, and each user
-- account's latest transaction and parts after it. The schema's CHECKs still have the last word on every
-- balance; foreign keys are checked at the end of the statement, so a
-- transaction may name an account opened in the same statement.
WITH balances AS (
    -- The parts' changes, and a new standing where one changed (one UPDATE
    -- per row: a statement may not update a row twice).
    UPDATE accounts AS a SET balance = a.balance + d.balance, reserved = a.reserved + d.reserved,
        status = COALESCE(d.status, a.status),
        status_reason = CASE WHEN d.status IS NULL THEN a.status_reason ELSE d.status_reason END
    FROM unnest(?::uuid[], ?::numeric[], ?::numeric[], ?::text[], ?::text[])
         AS d(id, balance, reserved, status, status_reason)
    WHERE a.id = d.id
),
opened AS (
    INSERT INTO accounts (id, kind, user_id, currency, balance, reserved, created_at, metadata)
    SELECT o.id, 'user', o.user_id, o.currency, o.balance, o.reserved, o.created_at, o.metadata
    FROM unnest(?::uuid[], ?::bigint[], ?::text[], ?::numeric[], ?::numeric[], ?::timestamptz[],
                ?::jsonb[])
         AS o(id, user_id, currency, balance, reserved, created_at, metadata)
),
transactions_written AS (
    INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, to_account_id,
                              order_id, service_id, service_name, reference, description, created_at,
                              created_by, reverses, from_balance_after, from_reserved_after,
                              to_balance_after, to_reserved_after, metadata, rate,
                              converted_amount, converted_currency)
    SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::text[],
                         ?::uuid[], ?::uuid[], ?::bigint[], ?::bigint[], ?::text[], ?::text[],
                         ?::text[], ?::timestamptz[], ?::text[], ?::uuid[], ?::numeric[],
                         ?::numeric[], ?::numeric[], ?::numeric[], ?::jsonb[], ?::numeric[],
                         ?::numeric[], ?::text[])
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
),
-- What the batch's captures and refunds add to each service's revenue of a
-- month, on the rollup rows of the batch's shard (the shard of the revenue
-- accounts it has locked, so no other batch waits on these rows), taken in
-- (currency, month, service) order. The name kept is the latest by capture
-- time.
revenue_added AS (
    INSERT INTO revenue_rollup AS r (currency, month, service_id, shard, revenue, service_name, named_at)
    SELECT d.currency, d.month, d.service_id, ?::int2, d.revenue, d.service_name, d.named_at
    FROM unnest(?::text[], ?::date[], ?::bigint[], ?::numeric[], ?::text[], ?::timestamptz[])
         WITH ORDINALITY AS d(currency, month, service_id, revenue, service_name, named_at, n)
    ORDER BY d.n
    ON CONFLICT (currency, month, service_id, shard) DO UPDATE
        SET revenue = r.revenue + EXCLUDED.revenue,
            service_name = CASE WHEN EXCLUDED.named_at >= COALESCE(r.named_at, '-infinity')
                                THEN EXCLUDED.service_name ELSE r.service_name END,
            named_at = CASE WHEN EXCLUDED.named_at >= COALESCE(r.named_at, '-infinity')
                            THEN EXCLUDED.named_at ELSE r.named_at END
),
-- Each user account's latest transaction and its parts right after it (the
-- audit's fast check compares every account with these), in account id
-- order; only batches that hold the account's lock write its row.
heads_written AS (
    INSERT INTO account_heads AS h (account_id, transaction_id, balance, reserved)
    SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::numeric[], ?::numeric[])
    ON CONFLICT (account_id) DO UPDATE
        SET transaction_id = EXCLUDED.transaction_id, balance = EXCLUDED.balance,
            reserved = EXCLUDED.reserved
),
-- The events of the accounts whose standing changed.
account_events_written AS (
    INSERT INTO account_events (event_id, type, occurred_at, account)
    SELECT * FROM unnest(?::uuid[], ?::text[], ?::timestamptz[], ?::jsonb[])
)
SELECT 1
