-- Push messages (to a topic's subscribers, or directly to a user or
-- thing) travel through the outbox like bucket events: type
-- 'PUSH_MESSAGE', scope and bucket the topic's scope and name (the
-- target's scope and '' for a direct push), object_id the message ID, and
-- message the kumo.MessageDelivery JSON.
ALTER TABLE outbox ADD COLUMN message TEXT NOT NULL DEFAULT '';
