-- What a capture took of its hold (the rest went back to the balance); NULL
-- until the order is captured.
ALTER TABLE reservations ADD COLUMN captured_amount NUMERIC(28, 2)
    CHECK (captured_amount > 0 AND captured_amount <= amount);
UPDATE reservations SET captured_amount = amount WHERE status = 'captured';
ALTER TABLE reservations ADD CONSTRAINT captured_has_amount
    CHECK ((status = 'captured') = (captured_amount IS NOT NULL));
