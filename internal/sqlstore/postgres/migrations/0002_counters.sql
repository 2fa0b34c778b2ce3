-- Change counters: a cache of derived data (subscriber topics, tokens)
-- is valid while its counter keeps its value. Every node reads the same
-- counters, so a change made on one node invalidates the caches of all.
CREATE TABLE counters (
	name  TEXT COLLATE "C" PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('subscriptions', 0), ('tokens', 0);
