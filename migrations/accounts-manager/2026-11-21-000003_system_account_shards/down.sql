-- Only possible while the extra shards hold no money.
DELETE FROM accounts WHERE kind <> 'user' AND shard <> 0;
DROP INDEX accounts_system_shards;
CREATE UNIQUE INDEX accounts_one_system_account_per_currency ON accounts (kind, currency) WHERE kind <> 'user';
ALTER TABLE accounts DROP COLUMN shard;
