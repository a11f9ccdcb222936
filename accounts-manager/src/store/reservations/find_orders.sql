-- The orders of a batch, as they stand.
SELECT order_id, account_id, service_id, service_name, amount, currency, status, created_at, updated_at,
       captured_amount, expires_at
FROM reservations
WHERE order_id = ANY(?::bigint[])
