-- Every advance's amount and its payments summed by status (only the
-- advances $1, unless it is NULL).
SELECT a.id, a.account_id, a.status, a.amount,
COALESCE(sum(p.amount) FILTER (WHERE p.status IN ('paid', 'scheduled', 'processing')), 0) AS owed,
COALESCE(sum(p.amount) FILTER (WHERE p.status = 'paid'), 0) AS paid,
COALESCE(sum(p.amount) FILTER (WHERE p.status = 'processing'), 0) AS processing
FROM advances a LEFT JOIN payments p ON p.advance_id = a.id
WHERE $1::uuid[] IS NULL OR a.id = ANY($1)
GROUP BY a.id ORDER BY a.account_id, a.created_at
