-- Refused by the CHECKs below while any exchange or fx account with money is
-- left, as it should be: nothing of an exchange is dropped silently.
DELETE FROM accounts WHERE kind = 'fx' AND balance = 0 AND reserved = 0;
ALTER TABLE transactions
    DROP CONSTRAINT an_exchange_has_its_conversion,
    DROP COLUMN converted_currency,
    DROP COLUMN converted_amount,
    DROP COLUMN rate;
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check
    CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'reservation', 'release', 'capture', 'reversal'));
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
    CHECK (kind IN ('user', 'external', 'revenue'));
