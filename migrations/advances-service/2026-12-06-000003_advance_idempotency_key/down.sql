ALTER TABLE advances DROP COLUMN idempotency_key;
