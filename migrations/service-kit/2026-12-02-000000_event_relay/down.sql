DROP TABLE event_relay;
DROP FUNCTION event_horizon();
