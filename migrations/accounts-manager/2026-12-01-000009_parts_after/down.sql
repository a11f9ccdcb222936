ALTER TABLE transactions
    DROP COLUMN from_balance_after,
    DROP COLUMN from_reserved_after,
    DROP COLUMN to_balance_after,
    DROP COLUMN to_reserved_after;
