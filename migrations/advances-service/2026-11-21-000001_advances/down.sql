DROP TABLE reconciliation_reports;
DROP TABLE idempotency_keys;
DROP TABLE payments;
DROP TABLE advances;
