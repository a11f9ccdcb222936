DROP TRIGGER advances_portfolio_insert ON advances;
DROP TRIGGER advances_portfolio_delete ON advances;
DROP TRIGGER advances_portfolio_update ON advances;
DROP FUNCTION rebuild_portfolio_rollup();
DROP FUNCTION keep_portfolio_on_update();
DROP FUNCTION keep_portfolio_on_insert();
DROP FUNCTION keep_portfolio_on_delete();
DROP FUNCTION portfolio_shard();
DROP FUNCTION portfolio_bucket(INT);
DROP INDEX payments_paid_at;
DROP TABLE collected_rollup;
DROP TABLE portfolio_rollup;
DROP INDEX advances_overdue;
DROP INDEX advances_by_time;
ALTER TABLE advances
    DROP CONSTRAINT overdue_chain,
    DROP CONSTRAINT outstanding_within_amount,
    DROP COLUMN overdue_since,
    DROP COLUMN overdue_amount,
    DROP COLUMN missed_installments,
    DROP COLUMN outstanding;
