-- Locks, in id order (as every writer does), the named accounts; the
-- batch's system account of each (user account, kind), the one of that
-- account's currency in the batch's shard; and the batch's system account of
-- each (kind, currency). Accounts that do not exist are simply not in the
-- answer. Each comes with the time once it was locked: the batch's time is
-- the latest of them, so that of two batches that touch one account, the
-- one applied later also has the later time (a batch's transaction may have
-- begun before another's that then held the lock it waited for).
WITH batch AS (SELECT ?::int2 AS shard),
locked AS (
SELECT a.id, a.kind, a.currency, a.balance, a.reserved, a.status, a.status_reason,
       a.user_id, a.created_at, a.metadata
FROM accounts a
WHERE a.id IN (
    SELECT unnest(?::uuid[])
    UNION
    SELECT s.id
    FROM unnest(?::uuid[], ?::text[]) AS r(owner, kind)
    JOIN accounts u ON u.id = r.owner
    JOIN accounts s ON s.kind = r.kind AND s.kind <> 'user' AND s.currency = u.currency
                   AND s.shard = (SELECT shard FROM batch)
    UNION
    SELECT s.id
    FROM unnest(?::text[], ?::text[]) AS d(kind, currency)
    JOIN accounts s ON s.kind = d.kind AND s.kind <> 'user' AND s.currency = d.currency
                   AND s.shard = (SELECT shard FROM batch)
)
ORDER BY a.id
FOR UPDATE OF a
)
SELECT locked.*, clock_timestamp() AS now FROM locked ORDER BY id
