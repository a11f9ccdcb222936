-- What a batch of payment outcomes did to (locked) advances: the outstanding
-- amount goes down by what was collected and the missed chain is replaced.
UPDATE advances a SET outstanding = a.outstanding - f.collected, missed_installments = f.missed,
overdue_amount = f.overdue, overdue_since = f.since, updated_at = now()
FROM unnest(?::uuid[], ?::numeric[], ?::int[], ?::numeric[], ?::timestamptz[]) AS f(id, collected, missed, overdue, since)
WHERE a.id = f.id
