-- A stored answer whose request is still at work after its transaction
-- committed (advances-service stores an advance, then pays it out): until
-- this time, or until the request stores its final answer (which clears
-- it), a repeat with the same key is 409 idempotency_key_in_flight. NULL for
-- every answer that is final when stored. Both services' tables are read by
-- the same code (service-kit), so both have the column.
ALTER TABLE idempotency_keys ADD COLUMN in_flight_until TIMESTAMPTZ;
