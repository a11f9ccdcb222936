-- Holds expire: from expires_at on they can no longer be captured or
-- released by a caller, and the service releases them itself (status
-- 'expired'). Holds made before this had no expiry: they get the default
-- time to live from their creation.
ALTER TABLE reservations ADD COLUMN expires_at TIMESTAMPTZ;
UPDATE reservations SET expires_at = created_at + interval '7 days';
ALTER TABLE reservations ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'captured', 'released', 'expired'));
-- The sweeper's question: which holds have run out?
CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'reserved';
