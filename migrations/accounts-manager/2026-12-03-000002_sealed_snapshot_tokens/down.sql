DROP TABLE token_seal;
