ALTER TABLE advances DROP CONSTRAINT advances_currency_once_paid_out;
UPDATE advances SET currency = 'USD' WHERE currency IS NULL;
ALTER TABLE advances ALTER COLUMN currency SET NOT NULL;
