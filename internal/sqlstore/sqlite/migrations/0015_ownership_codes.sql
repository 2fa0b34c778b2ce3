-- The pending PIN code flows of thing ownership (rest-core §4.3): a code,
-- stored as its SHA-256, makes owner_kind/owner_id an owner of the thing
-- when the other party confirms it before it expires. started_by is
-- 'thing', 'owner' (the user, or a member of the group) or 'admin'.
CREATE TABLE thing_ownership_codes (
	app_id     TEXT NOT NULL,
	thing_id   TEXT NOT NULL,
	code_hash  TEXT NOT NULL,
	owner_kind TEXT NOT NULL,
	owner_id   TEXT NOT NULL,
	started_by TEXT NOT NULL,
	expires    INTEGER NOT NULL,
	failures   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app_id, thing_id, code_hash)
);
