-- The entries' foreign keys go. Each entry is written by the engine's one
-- write statement, from the same plan as the transaction it belongs to and
-- in the same statement, and their row-by-row triggers (a lookup and a row
-- lock for each of an entry's two references, four per transfer) took a
-- third of a batch's database time: transfer batches of 100 went from 7,800
-- to 11,600 transfers/s without them (README, "Transfer batches"). The
-- accounts a caller names are still checked by the foreign keys of
-- `transactions`, and the audit's full recount now also reports any entry
-- that names no account or no transaction (`store/audit/recount.sql`).
ALTER TABLE entries
    DROP CONSTRAINT entries_transaction_id_fkey,
    DROP CONSTRAINT entries_account_id_fkey;
