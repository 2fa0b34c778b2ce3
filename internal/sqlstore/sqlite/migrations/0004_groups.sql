-- Groups, their members, and the owners of things (SQLite).

CREATE TABLE groups (
	app_id   TEXT NOT NULL,
	id       TEXT NOT NULL,
	name     TEXT NOT NULL,
	owner    TEXT NOT NULL, -- a user ID; '' when the admin made the group without one
	created  INTEGER NOT NULL,
	modified INTEGER NOT NULL,
	PRIMARY KEY (app_id, id)
) WITHOUT ROWID;
CREATE INDEX groups_owner ON groups (app_id, owner);

-- The owner of a group is always one of its members.
CREATE TABLE group_members (
	app_id   TEXT NOT NULL,
	group_id TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	created  INTEGER NOT NULL,
	PRIMARY KEY (app_id, group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (app_id, user_id);

-- owner_kind: 'user' or 'group' (kumo.OwnerKind).
CREATE TABLE thing_owners (
	app_id     TEXT NOT NULL,
	thing_id   TEXT NOT NULL,
	owner_kind TEXT NOT NULL,
	owner_id   TEXT NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (app_id, thing_id, owner_kind, owner_id)
) WITHOUT ROWID;
CREATE INDEX thing_owners_owner ON thing_owners (app_id, owner_kind, owner_id);
