-- Only sent messages have a message ID: bucket events (most records) no
-- longer write an entry of the message index. Queries by message say
-- message_id <> '' so that the planner may use it.
DROP INDEX push_deliveries_message;
CREATE INDEX push_deliveries_message ON push_deliveries (app_id, message_id, id) WHERE message_id <> '';
