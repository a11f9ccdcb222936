-- pgbench: the raw-SQL shape of a transfer into one hot account (id 1).
\set from random(2, 10000)
\set cents random(1, 10000)
BEGIN;
UPDATE bench_accounts SET balance = balance + :cents / 100.0 WHERE id = 1;
UPDATE bench_accounts SET balance = balance - :cents / 100.0 WHERE id = :from AND balance >= :cents / 100.0;
INSERT INTO bench_history (from_id, to_id, amount) VALUES (:from, 1, :cents / 100.0);
END;
