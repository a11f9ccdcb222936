-- The external, revenue and fx accounts of currency $1, one per shard
-- 0..$2-1, created if they do not exist yet.
INSERT INTO accounts (id, kind, currency, shard)
SELECT gen_random_uuid(), k, $1, s
FROM unnest(ARRAY['external', 'revenue', 'fx']) k, generate_series(0, $2 - 1) s
ON CONFLICT (kind, currency, shard) WHERE kind <> 'user' DO NOTHING
