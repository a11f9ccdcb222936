-- The transactions a batch's reversals name, as they stand (their reversed
-- amounts under the lock the batch holds on each).
SELECT id, kind, status, reason, amount, currency, from_account_id, to_account_id,
       order_id, service_id, reference, description, created_at, created_by,
       reverses, reversed_amount, metadata, rate, converted_amount, converted_currency
FROM transactions
WHERE id = ANY(?::uuid[])
