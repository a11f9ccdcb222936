ALTER TABLE advances DROP COLUMN created_by;
