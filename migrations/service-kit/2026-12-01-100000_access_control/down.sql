DROP INDEX idempotency_keys_by_created_at;
DROP TABLE api_keys;
