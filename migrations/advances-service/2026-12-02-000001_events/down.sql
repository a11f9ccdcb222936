DROP FUNCTION event_horizon();
DROP TABLE event_relay;
DROP TABLE events;
DROP SEQUENCE events_ordinal;
