DROP INDEX transactions_by_position;
ALTER TABLE transactions DROP COLUMN position;
DROP SEQUENCE transactions_ordinal;
