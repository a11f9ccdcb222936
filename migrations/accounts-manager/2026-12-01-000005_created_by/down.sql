ALTER TABLE transactions DROP COLUMN created_by;
