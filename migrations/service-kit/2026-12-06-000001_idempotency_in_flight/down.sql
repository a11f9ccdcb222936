ALTER TABLE idempotency_keys DROP COLUMN in_flight_until;
