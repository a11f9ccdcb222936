ALTER TABLE reservations DROP CONSTRAINT captured_has_amount;
ALTER TABLE reservations DROP COLUMN captured_amount;
