-- Groups, their members, and the owners of things (PostgreSQL): the same
-- tables, columns and indexes as SQLite's.

CREATE TABLE groups (
	app_id   TEXT COLLATE "C" NOT NULL,
	id       TEXT COLLATE "C" NOT NULL,
	name     TEXT COLLATE "C" NOT NULL,
	owner    TEXT COLLATE "C" NOT NULL, -- a user ID; '' when the admin made the group without one
	created  BIGINT NOT NULL,
	modified BIGINT NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE INDEX groups_owner ON groups (app_id, owner);

-- The owner of a group is always one of its members.
CREATE TABLE group_members (
	app_id   TEXT COLLATE "C" NOT NULL,
	group_id TEXT COLLATE "C" NOT NULL,
	user_id  TEXT COLLATE "C" NOT NULL,
	created  BIGINT NOT NULL,
	PRIMARY KEY (app_id, group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (app_id, user_id);

-- owner_kind: 'user' or 'group' (kumo.OwnerKind).
CREATE TABLE thing_owners (
	app_id     TEXT COLLATE "C" NOT NULL,
	thing_id   TEXT COLLATE "C" NOT NULL,
	owner_kind TEXT COLLATE "C" NOT NULL,
	owner_id   TEXT COLLATE "C" NOT NULL,
	created    BIGINT NOT NULL,
	PRIMARY KEY (app_id, thing_id, owner_kind, owner_id)
);
CREATE INDEX thing_owners_owner ON thing_owners (app_id, owner_kind, owner_id);
