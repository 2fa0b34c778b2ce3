-- The delivery ledger's own database (ledger.db): its one table, as the
-- store's migration 0013 made it (kumo.DeliveryRecord: one row per push to
-- one installation, with its state; pruned after --ledger-retention).
-- IF NOT EXISTS: a ledger.db made before the ledger had a schema of its
-- own holds every table of the store, this one with its records among
-- them; it is kept as it is.
CREATE TABLE IF NOT EXISTS push_deliveries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id          TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	installation_id TEXT NOT NULL,
	device_type     TEXT NOT NULL,
	mqtt_topic      TEXT NOT NULL,
	owner_kind      INTEGER NOT NULL,
	owner_id        TEXT NOT NULL,
	state           TEXT NOT NULL,
	reason          TEXT NOT NULL,
	created         INTEGER NOT NULL,
	updated         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS push_deliveries_installation ON push_deliveries (app_id, installation_id, id);
CREATE INDEX IF NOT EXISTS push_deliveries_owner ON push_deliveries (app_id, owner_id, id);
-- Only sent messages have a message ID: bucket events (most records)
-- write no entry here. Queries by message say message_id <> '' so that
-- the planner uses it.
CREATE INDEX IF NOT EXISTS push_deliveries_message ON push_deliveries (app_id, message_id, id) WHERE message_id <> '';
