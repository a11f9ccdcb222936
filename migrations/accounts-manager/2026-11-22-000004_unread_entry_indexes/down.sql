CREATE INDEX entries_by_account ON entries (account_id);
CREATE INDEX entries_by_transaction ON entries (transaction_id);
