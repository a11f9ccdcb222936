CREATE INDEX transactions_captures ON transactions (currency, created_at)
    INCLUDE (service_id, service_name, amount)
    WHERE kind = 'capture' AND status = 'success';
CREATE INDEX transactions_refunds ON transactions (currency, created_at)
    INCLUDE (service_id, service_name, amount)
    WHERE kind = 'reversal' AND status = 'success' AND service_id IS NOT NULL;
DROP FUNCTION rebuild_revenue_rollup();
DROP TABLE revenue_rollup;
