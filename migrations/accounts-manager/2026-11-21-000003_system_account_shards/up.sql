-- Every deposit and withdrawal used to lock the one external account of its
-- currency, and every capture the one revenue account: a hot row that
-- serialized them all. Each currency now has 16 of each, and a movement uses
-- the one its user account maps to. The sum of every account of a currency is
-- still zero, and each shard's balance still equals its entries.
ALTER TABLE accounts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15);
DROP INDEX accounts_one_system_account_per_currency;
CREATE UNIQUE INDEX accounts_system_shards ON accounts (kind, currency, shard) WHERE kind <> 'user';
INSERT INTO accounts (id, kind, currency, shard)
    SELECT gen_random_uuid(), a.kind, a.currency, s
    FROM accounts a, generate_series(1, 15) s
    WHERE a.kind <> 'user';
