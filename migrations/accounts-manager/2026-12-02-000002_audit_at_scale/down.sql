DROP TABLE audit_recounts;
DROP FUNCTION rebuild_account_heads();
DROP TABLE account_heads;
