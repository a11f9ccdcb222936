ALTER TABLE advances DROP COLUMN traceparent;
