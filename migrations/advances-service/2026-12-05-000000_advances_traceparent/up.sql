-- The W3C trace context of the request that made each advance, so that its
-- disbursement retries and the jobs of its payments continue that trace.
-- NULL when the request carried none and no spans were exported.
ALTER TABLE advances ADD COLUMN traceparent TEXT;
