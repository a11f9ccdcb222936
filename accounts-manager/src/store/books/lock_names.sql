-- Takes the advisory locks of the orders, the (user, currency) pairs and
-- the reversed transactions a batch names, in one order every writer
-- follows (so two batches never wait on each other in a circle), held until
-- the transaction ends. Orders and users' first accounts have no row to lock
-- before they exist; these locks make a reserve and a capture of one order,
-- two first deposits of one user, or two reversals of one transaction take
-- turns.
SELECT pg_advisory_xact_lock(l.id)
FROM (
    SELECT hashtextextended('order', o) AS id FROM unnest(?::bigint[]) AS o
    UNION
    SELECT hashtextextended(u.currency, u.user_id)
    FROM unnest(?::bigint[], ?::text[]) AS u(user_id, currency)
    UNION
    SELECT hashtextextended('transaction ' || t::text, 0) FROM unnest(?::uuid[]) AS t
    ORDER BY id
) AS l
