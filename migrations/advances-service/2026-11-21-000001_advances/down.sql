DROP TABLE reconciliation_reports;
DROP TABLE payments;
DROP TABLE advances;
