DROP TABLE account_events;
ALTER TABLE accounts
    DROP CONSTRAINT a_reason_while_not_active,
    DROP CONSTRAINT closed_accounts_are_empty,
    DROP COLUMN status_reason,
    DROP COLUMN status;
