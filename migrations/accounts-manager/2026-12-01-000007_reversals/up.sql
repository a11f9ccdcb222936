-- Reversals: a transaction of kind 'reversal' names the transaction it
-- reverses; each transaction keeps the sum of its successful reversals
-- (updated by the reversal's own database transaction, under the original's
-- lock, so concurrent reversals never add up to more than it).
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check
    CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'reservation', 'release', 'capture', 'reversal'));
ALTER TABLE transactions ADD COLUMN reverses UUID REFERENCES transactions (id);
ALTER TABLE transactions ADD COLUMN reversed_amount NUMERIC(28, 2) NOT NULL DEFAULT 0
    CHECK (reversed_amount >= 0 AND reversed_amount <= amount);
ALTER TABLE transactions ADD CONSTRAINT reversal_names_its_original
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL));
-- The revenue CSV subtracts refunds (reversals of captures, which carry the
-- capture's service) in the month of the refund.
CREATE INDEX transactions_refunds ON transactions (currency, created_at)
    INCLUDE (service_id, service_name, amount)
    WHERE kind = 'reversal' AND status = 'success' AND service_id IS NOT NULL;
