-- The end nodes of gateways (push-mqtt §7.1, "Gateways"): end_node_id is
-- an end node of gateway_id, both things of the app. An end node belongs
-- to at most one gateway. Deleting either thing removes the link.
CREATE TABLE end_nodes (
	app_id      TEXT NOT NULL,
	end_node_id TEXT NOT NULL,
	gateway_id  TEXT NOT NULL,
	created     BIGINT NOT NULL,
	PRIMARY KEY (app_id, end_node_id)
);
CREATE INDEX end_nodes_gateway ON end_nodes (app_id, gateway_id, end_node_id);
