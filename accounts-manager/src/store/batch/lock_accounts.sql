-- Locks, in id order (as every writer does), the named accounts; the system
-- account of each (user account, kind), the one of that account's currency
-- and of the given shard; and the system accounts named by (kind, currency,
-- shard) directly. Accounts that do not exist are simply not in the answer.
SELECT a.id, a.kind, a.currency, a.balance, a.reserved, a.shard, now() AS now
FROM accounts a
WHERE a.id IN (
    SELECT unnest(?::uuid[])
    UNION
    SELECT s.id
    FROM unnest(?::uuid[], ?::text[], ?::int2[]) AS r(owner, kind, shard)
    JOIN accounts u ON u.id = r.owner
    JOIN accounts s ON s.kind = r.kind AND s.kind <> 'user' AND s.currency = u.currency AND s.shard = r.shard
    UNION
    SELECT s.id
    FROM unnest(?::text[], ?::text[], ?::int2[]) AS d(kind, currency, shard)
    JOIN accounts s ON s.kind = d.kind AND s.kind <> 'user' AND s.currency = d.currency AND s.shard = d.shard
)
ORDER BY a.id
FOR UPDATE OF a
