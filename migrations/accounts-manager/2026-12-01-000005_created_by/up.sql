-- Who made each transaction: the name of the API key of the request, or
-- 'accounts-manager' for what the service does by itself. Rows from before
-- keys had names say 'unknown'; every new row must name its maker.
ALTER TABLE transactions ADD COLUMN created_by TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE transactions ALTER COLUMN created_by DROP DEFAULT;
