-- The delivery ledger (kumo.DeliveryRecord): one row per push to one
-- installation, with its state; pruned after --ledger-retention.
CREATE TABLE push_deliveries (
	id BIGSERIAL PRIMARY KEY,
	app_id          TEXT COLLATE "C" NOT NULL,
	message_id      TEXT COLLATE "C" NOT NULL,
	event_type      TEXT COLLATE "C" NOT NULL,
	installation_id TEXT COLLATE "C" NOT NULL,
	device_type     TEXT COLLATE "C" NOT NULL,
	mqtt_topic      TEXT COLLATE "C" NOT NULL,
	owner_kind      INTEGER NOT NULL,
	owner_id        TEXT COLLATE "C" NOT NULL,
	state           TEXT COLLATE "C" NOT NULL,
	reason          TEXT COLLATE "C" NOT NULL,
	created         BIGINT NOT NULL,
	updated         BIGINT NOT NULL
);
CREATE INDEX push_deliveries_installation ON push_deliveries (app_id, installation_id, id);
CREATE INDEX push_deliveries_owner ON push_deliveries (app_id, owner_id, id);
-- Only sent messages have a message ID: bucket events (most records)
-- write no entry here. Queries by message say message_id <> '' so that
-- the planner uses it.
CREATE INDEX push_deliveries_message ON push_deliveries (app_id, message_id, id) WHERE message_id <> '';
