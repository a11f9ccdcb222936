DROP INDEX accounts_by_time;
ALTER TABLE accounts DROP COLUMN xid;
DROP INDEX transactions_by_reference;
DROP INDEX accounts_by_metadata;
DROP INDEX transactions_by_metadata;
ALTER TABLE transactions DROP COLUMN metadata;
ALTER TABLE accounts DROP COLUMN metadata;
