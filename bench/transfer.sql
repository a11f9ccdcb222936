-- pgbench: the raw-SQL shape of one transfer. Debit with a balance check,
-- credit, one history row, in one transaction, rows locked in id order.
\set from random(1, 10000)
\set to random(1, 10000)
\if :from = :to
\set to (:from % 10000) + 1
\endif
\set cents random(1, 10000)
BEGIN;
\if :from < :to
UPDATE bench_accounts SET balance = balance - :cents / 100.0 WHERE id = :from AND balance >= :cents / 100.0;
UPDATE bench_accounts SET balance = balance + :cents / 100.0 WHERE id = :to;
\else
UPDATE bench_accounts SET balance = balance + :cents / 100.0 WHERE id = :to;
UPDATE bench_accounts SET balance = balance - :cents / 100.0 WHERE id = :from AND balance >= :cents / 100.0;
\endif
INSERT INTO bench_history (from_id, to_id, amount) VALUES (:from, :to, :cents / 100.0);
END;
