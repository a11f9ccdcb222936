-- Early payoff: the scheduled payments of an advance are cancelled and one
-- payment of their sum, due at once, takes their place.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('scheduled', 'processing', 'paid', 'failed', 'cancelled'));
