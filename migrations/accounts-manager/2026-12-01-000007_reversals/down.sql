DROP INDEX transactions_refunds;
ALTER TABLE transactions DROP CONSTRAINT reversal_names_its_original;
ALTER TABLE transactions DROP COLUMN reversed_amount;
ALTER TABLE transactions DROP COLUMN reverses;
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check
    CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'reservation', 'release', 'capture'));
