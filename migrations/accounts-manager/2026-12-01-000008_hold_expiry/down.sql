DROP INDEX reservations_expiring;
UPDATE reservations SET status = 'released' WHERE status = 'expired';
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'captured', 'released'));
ALTER TABLE reservations DROP COLUMN expires_at;
