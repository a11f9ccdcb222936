-- Each (user, currency) pair's oldest user account that is not closed, if it
-- has one.
SELECT DISTINCT ON (a.user_id, a.currency) a.id, a.user_id, a.currency
FROM accounts a
JOIN unnest(?::bigint[], ?::text[]) AS u(user_id, currency)
  ON a.kind = 'user' AND a.user_id = u.user_id AND a.currency = u.currency
 AND a.status <> 'closed'
ORDER BY a.user_id, a.currency, a.created_at, a.id
