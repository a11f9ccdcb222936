-- Who made each advance: the name of the API key of the request. Rows from
-- before keys had names say 'unknown'; every new row must name its maker.
ALTER TABLE advances ADD COLUMN created_by TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE advances ALTER COLUMN created_by DROP DEFAULT;
