-- The key that seals the listings' snapshot tokens (service_kit::listing::
-- TokenSeal): one for the database, so that every instance takes the tokens
-- any other gave out. 244 random bits, from gen_random_uuid's strong random
-- source.
CREATE TABLE token_seal (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    key       BYTEA NOT NULL
);
INSERT INTO token_seal (key) VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
