DROP TABLE entries;
DROP TABLE transactions;
DROP TABLE accounts;
