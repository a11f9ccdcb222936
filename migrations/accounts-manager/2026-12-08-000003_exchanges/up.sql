-- Exchanges between currencies: a transaction of kind 'exchange' moves its
-- amount out of an account of one currency and `amount × rate` (rounded half
-- to even to cents) into an account of another. Each currency stays balanced
-- on its own through its 'fx' system accounts (one per shard, like the
-- external and revenue accounts): money of one currency goes into its fx
-- account, money of the other comes out of its own.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
    CHECK (kind IN ('user', 'external', 'revenue', 'fx'));
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check
    CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'reservation', 'release', 'capture',
                    'reversal', 'exchange'));

-- An exchange's (and its reversal's) rate and what it converted into: all
-- three or none, and only on exchanges and reversals.
ALTER TABLE transactions
    ADD COLUMN rate NUMERIC CHECK (rate > 0),
    ADD COLUMN converted_amount NUMERIC(28, 2) CHECK (converted_amount > 0),
    ADD COLUMN converted_currency TEXT CHECK (converted_currency ~ '^[A-Z]{3}$'),
    ADD CONSTRAINT an_exchange_has_its_conversion
        CHECK ((rate IS NULL) = (converted_amount IS NULL)
               AND (rate IS NULL) = (converted_currency IS NULL)
               AND (kind <> 'exchange' OR rate IS NOT NULL)
               AND (rate IS NULL OR kind IN ('exchange', 'reversal')));

-- The fx accounts of every currency that already has its system accounts
-- (new currencies get them with the others, ensure_system_accounts.sql).
INSERT INTO accounts (id, kind, currency, shard)
    SELECT gen_random_uuid(), 'fx', a.currency, a.shard
    FROM accounts a
    WHERE a.kind = 'external'
ON CONFLICT (kind, currency, shard) WHERE kind <> 'user' DO NOTHING;
