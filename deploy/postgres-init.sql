-- One Postgres server, a database per service (each service migrates its own at start-up).
CREATE DATABASE accounts_manager;
CREATE DATABASE advances_service;
