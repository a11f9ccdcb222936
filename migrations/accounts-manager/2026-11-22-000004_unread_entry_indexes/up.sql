-- Nothing reads entries by account or by transaction: the audit sums them all
-- (a scan either way), history and the report read transactions, and neither
-- accounts nor transactions are ever deleted or re-keyed, so the foreign keys
-- need no index on this side. Each transfer wrote four entries into these two
-- indexes; group commit's batches spend a tenth of the machine maintaining
-- indexes.
DROP INDEX entries_by_account;
DROP INDEX entries_by_transaction;
