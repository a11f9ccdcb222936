-- The Idempotency-Key of the request that made the advance, if it sent one:
-- an advance accepted while accounts-manager could not be reached, whose
-- account then turns out not to exist, is withdrawn, and the answer stored
-- under this key becomes the 422 unknown_account it would have been.
ALTER TABLE advances ADD COLUMN idempotency_key TEXT;
