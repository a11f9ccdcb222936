DROP INDEX transactions_captures;
DROP INDEX transactions_by_status_time;
DROP INDEX transactions_to_account_amount;
DROP INDEX transactions_from_account_amount;
ALTER TABLE transactions DROP COLUMN service_name;
DROP TABLE reservations;
