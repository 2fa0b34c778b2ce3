package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/kumo-iot/kumo"
)

// CommandService implements kumo.CommandService: Thing-IF commands,
// each committed with its delivery to the thing (an outbox event) in one
// write.
type CommandService struct {
	db         *DB
	things     *ThingService
	thingTypes *ThingTypeService

	// recent holds the commands this node created lately, by app and ID:
	// their actions never change, and their action results, which follow
	// within moments, need not read them back. Emptied when full.
	recentMu sync.Mutex
	recent   map[[2]string]kumo.Command
}

// maxRecentCommands bounds CommandService.recent.
const maxRecentCommands = 10_000

// remember records a command just committed in recent.
func (s *CommandService) remember(appID string, cmd kumo.Command) {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	if s.recent == nil || len(s.recent) >= maxRecentCommands {
		s.recent = make(map[[2]string]kumo.Command)
	}
	s.recent[[2]string{appID, cmd.ID}] = cmd
}

// recentCommand returns command id of app appID if recent holds it.
func (s *CommandService) recentCommand(appID, id string) (kumo.Command, bool) {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	cmd, ok := s.recent[[2]string{appID, id}]
	return cmd, ok
}

var _ kumo.CommandService = (*CommandService)(nil)

// commandColumns are the columns scanCommand reads, in its order.
const commandColumns = `id, thing_id, issuer_kind, issuer_id, actions, action_results, state, fired_by_trigger_id,
	title, description, metadata, schema_name, schema_version, created, modified`

// targetNotFound is TARGET_NOT_FOUND for a thing ID.
func targetNotFound(appID, thingID string) *kumo.Error {
	return kumo.Errorf(kumo.ErrTargetNotFound, "Target thing:%s was not found", thingID).
		With("appID", appID).With("target", "thing:"+thingID)
}

// targetExists returns TARGET_NOT_FOUND unless thing thingID exists.
func (s *CommandService) targetExists(ctx context.Context, appID, thingID string) error {
	var one int
	err := s.db.queryRow(ctx, "SELECT 1 FROM things WHERE app_id = ? AND id = ?", appID, thingID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return targetNotFound(appID, thingID)
	}
	return err
}

// commandTarget reads, in one query, the thing a command is for (its
// fields only when withFields: the aliases check needs its thing type)
// and whether the user c owns it, himself or through a group (false for
// other callers). TARGET_NOT_FOUND when there is no such thing.
func (s *CommandService) commandTarget(ctx context.Context, c kumo.Caller, thingID string, withFields bool) (kumo.Thing, bool, error) {
	user := ""
	if c.Kind == kumo.UserCaller {
		user = c.ID
	}
	var (
		t      = kumo.Thing{ID: thingID}
		fields string
		owns   bool
	)
	err := s.db.queryRow(ctx, `SELECT t.fields, EXISTS (SELECT 1 FROM thing_owners o WHERE o.app_id = t.app_id AND o.thing_id = t.id AND (
			(o.owner_kind = 'user' AND o.owner_id = ?) OR
			(o.owner_kind = 'group' AND o.owner_id IN (SELECT group_id FROM group_members WHERE app_id = ? AND user_id = ?))))
		FROM things t WHERE t.app_id = ? AND t.id = ?`, user, c.AppID, user, c.AppID, thingID).Scan(&fields, &owns)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, targetNotFound(c.AppID, thingID)
	}
	if err != nil || !withFields {
		return t, owns && user != "", err
	}
	d := json.NewDecoder(strings.NewReader(fields))
	d.UseNumber()
	if err := d.Decode(&t.Fields); err != nil {
		return t, false, err
	}
	return t, owns && user != "", nil
}

// Create implements kumo.CommandService.
func (s *CommandService) Create(ctx context.Context, c kumo.Caller, cmd kumo.Command) (kumo.Command, error) {
	if c.Kind != kumo.Admin && c.Kind != kumo.UserCaller {
		return kumo.Command{}, kumo.Unauthorized(c, "Only the thing's owners and the app admin may send it commands")
	}
	issuer := cmd.IssuerOwner()
	t, owns, err := s.commandTarget(ctx, c, cmd.ThingID, len(cmd.Aliases()) > 0)
	if err != nil {
		return kumo.Command{}, err
	}
	if c.Kind == kumo.UserCaller {
		if !owns {
			return kumo.Command{}, kumo.Unauthorized(c, "Only the thing's owners and the app admin may send it commands")
		}
		is, err := s.things.isOwnerSubject(ctx, c, issuer)
		if err != nil {
			return kumo.Command{}, err
		}
		if !is {
			return kumo.Command{}, kumo.Unauthorized(c, "A user issues commands as himself or as a group he is a member of")
		}
	}
	// A trait command names only the aliases of the thing's configuration
	// (any, when it has none).
	if err := s.thingTypes.checkAliases(ctx, c.AppID, t, cmd.Aliases()); err != nil {
		return kumo.Command{}, err
	}
	cmd.ID = kumo.NewCommandID()
	if _, err := cmd.Delivery(); err != nil { // too large: refused before the write
		return kumo.Command{}, err
	}
	var out kumo.Command
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// In the write, in one read: the thing still exists (its row
		// locked against a concurrent delete on PostgreSQL) and the
		// issuer owns it.
		var issuerOwns bool
		err := tx.QueryRow(ctx, tx.db.locks.LockShared(`SELECT EXISTS (SELECT 1 FROM thing_owners o
			WHERE o.app_id = t.app_id AND o.thing_id = t.id AND o.owner_kind = ? AND o.owner_id = ?)
			FROM things t WHERE t.app_id = ? AND t.id = ?`), string(issuer.Kind), issuer.ID, c.AppID, cmd.ThingID).Scan(&issuerOwns)
		if errors.Is(err, sql.ErrNoRows) {
			return targetNotFound(c.AppID, cmd.ThingID)
		}
		if err != nil {
			return err
		}
		if !issuerOwns {
			return kumo.Errorf(kumo.ErrWrongCommand, "The issuer %s does not own thing %s", cmd.Issuer, cmd.ThingID)
		}
		out, err = s.insertCommand(ctx, tx, c.AppID, cmd)
		return err
	})
	if err == nil {
		s.remember(c.AppID, out)
	}
	return out, err
}

// createInTx commits a command within tx: it assigns its ID (unless it
// has one), state SENDING and times, inserts its row and its delivery to
// the thing's installations (an outbox event of a direct push to the
// thing, so that the command reaches the thing's MQTT installations on
// whichever node holds them, even after a crash). It checks no caller
// (the caller did), only that the thing exists (TARGET_NOT_FOUND, its row
// locked against a concurrent delete on PostgreSQL), that the command has
// an issuer and actions (kumo.ParseCommand checks the rest) and that the
// payload is within MaxPushPayload (WRONG_COMMAND). Triggers fire
// commands through it.
func (s *CommandService) createInTx(ctx context.Context, tx *Tx, appID string, cmd kumo.Command) (kumo.Command, error) {
	ok, err := rowExists(ctx, tx, tx.db.locks.LockShared("SELECT 1 FROM things WHERE app_id = ? AND id = ?"), appID, cmd.ThingID)
	if err != nil {
		return kumo.Command{}, err
	}
	if !ok {
		return kumo.Command{}, targetNotFound(appID, cmd.ThingID)
	}
	return s.insertCommand(ctx, tx, appID, cmd)
}

// insertCommand is createInTx once the thing was found in tx.
func (s *CommandService) insertCommand(ctx context.Context, tx *Tx, appID string, cmd kumo.Command) (kumo.Command, error) {
	if _, err := kumo.ParseThingOwner(cmd.Issuer); err != nil || len(cmd.Actions) == 0 {
		return kumo.Command{}, kumo.Errorf(kumo.ErrWrongCommand, "A command needs an issuer (user:{id} or group:{id}) and actions")
	}
	if cmd.ID == "" {
		cmd.ID = kumo.NewCommandID()
	}
	now := tx.db.now()
	cmd.State, cmd.CreatedAt, cmd.ModifiedAt, cmd.ActionResults = kumo.CommandSending, now, now, nil
	d, err := cmd.Delivery()
	if err != nil {
		return kumo.Command{}, err
	}
	issuer := cmd.IssuerOwner()
	_, err = tx.Exec(ctx, `INSERT INTO commands (app_id, id, thing_id, issuer_kind, issuer_id, actions, action_results, state,
		fired_by_trigger_id, title, description, metadata, schema_name, schema_version, created, modified)
		VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		appID, cmd.ID, cmd.ThingID, string(issuer.Kind), issuer.ID, string(cmd.Actions), string(cmd.State),
		cmd.FiredByTriggerID, cmd.Title, cmd.Description, string(cmd.Metadata), cmd.Schema, cmd.SchemaVersion, now, now)
	if err != nil {
		return kumo.Command{}, err
	}
	msg, err := json.Marshal(d)
	if err != nil {
		return kumo.Command{}, err
	}
	var sender kumo.Principal
	if issuer.Kind == kumo.OwnerUser {
		sender = kumo.Principal{Kind: kumo.UserCaller, ID: issuer.ID}
	}
	err = insertEvent(ctx, tx, kumo.Event{Type: kumo.PushMessageSent, ObjectID: cmd.ID, Sender: sender, When: now, Message: msg,
		Bucket: kumo.BucketRef{AppID: appID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: cmd.ThingID}}})
	return cmd, err
}

// mayRead checks that c may read the commands of thing thingID: the
// admin, the thing itself or an owner (UNAUTHORIZED), and that the thing
// exists (TARGET_NOT_FOUND).
func (s *CommandService) mayRead(ctx context.Context, c kumo.Caller, thingID string) error {
	if c.Kind == kumo.Anonymous {
		return kumo.Unauthorized(c, "Reading commands needs a token")
	}
	if err := s.targetExists(ctx, c.AppID, thingID); err != nil {
		return err
	}
	ok, err := s.things.managesThing(ctx, c, thingID, true)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "Only the thing, its owners and the app admin may read its commands")
	}
	return nil
}

// Get implements kumo.CommandService.
func (s *CommandService) Get(ctx context.Context, c kumo.Caller, thingID, commandID string) (kumo.Command, error) {
	if err := s.mayRead(ctx, c, thingID); err != nil {
		return kumo.Command{}, err
	}
	return scanCommand(s.db.queryRow(ctx, "SELECT "+commandColumns+" FROM commands WHERE app_id = ? AND id = ? AND thing_id = ?",
		c.AppID, commandID, thingID), c.AppID, commandID)
}

// commandNotFound is COMMAND_NOT_FOUND.
func commandNotFound(appID, commandID string) *kumo.Error {
	return kumo.Errorf(kumo.ErrCommandNotFound, "Command %s was not found", commandID).
		With("appID", appID).With("commandID", commandID)
}

// scanCommand reads one row of commandColumns (COMMAND_NOT_FOUND when
// there is none).
func scanCommand(row interface{ Scan(...any) error }, appID, commandID string) (kumo.Command, error) {
	var (
		c                                kumo.Command
		kind, id, actions, results, meta string
		state                            string
	)
	err := row.Scan(&c.ID, &c.ThingID, &kind, &id, &actions, &results, &state, &c.FiredByTriggerID,
		&c.Title, &c.Description, &meta, &c.Schema, &c.SchemaVersion, &c.CreatedAt, &c.ModifiedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, commandNotFound(appID, commandID)
	}
	if err != nil {
		return c, err
	}
	c.Issuer = kumo.ThingOwner{Kind: kumo.OwnerKind(kind), ID: id}.String()
	c.State = kumo.CommandState(state)
	c.Actions = json.RawMessage(actions)
	if results != "" {
		c.ActionResults = json.RawMessage(results)
	}
	if meta != "" {
		c.Metadata = json.RawMessage(meta)
	}
	return c, nil
}

// List implements kumo.CommandService. The pagination key is the seq of
// the last command listed: the next page starts after it.
func (s *CommandService) List(ctx context.Context, c kumo.Caller, thingID string, limit int, key string) ([]kumo.Command, string, error) {
	if err := s.mayRead(ctx, c, thingID); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > kumo.CommandListLimit {
		limit = kumo.CommandListLimit
	}
	var after int64
	if key != "" {
		n, err := strconv.ParseInt(key, 10, 64)
		if err != nil || n < 0 {
			return nil, "", kumo.InvalidInput(map[string]string{"paginationKey": "was not issued by this server"})
		}
		after = n
	}
	rows, err := s.db.query(ctx, "SELECT seq, "+commandColumns+` FROM commands WHERE app_id = ? AND thing_id = ? AND seq > ?
		ORDER BY seq LIMIT `+strconv.Itoa(limit+1), c.AppID, thingID, after)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var (
		out  []kumo.Command
		seqs []int64
	)
	for rows.Next() {
		var seq int64
		cmd, err := scanCommand(rowWith{rows, &seq}, c.AppID, "")
		if err != nil {
			return nil, "", err
		}
		out, seqs = append(out, cmd), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(seqs[limit-1], 10)
	}
	return out, next, nil
}

// rowWith scans a row whose first column is read into first, the others
// as the scanner that wraps it asks.
type rowWith struct {
	rows  *sql.Rows
	first any
}

// Scan implements scanCommand's row.
func (r rowWith) Scan(dest ...any) error { return r.rows.Scan(append([]any{r.first}, dest...)...) }

// PutActionResults implements kumo.CommandService.
func (s *CommandService) PutActionResults(ctx context.Context, c kumo.Caller, thingID, commandID string, body map[string]any) error {
	if !c.IsAdmin() && !(c.Kind == kumo.ThingCaller && c.ID == thingID) {
		return kumo.Unauthorized(c, "Only the thing itself (and the app admin) may report a command's results")
	}
	// The command is read outside the write (or not at all, when this
	// node created it lately): the results' state depends only on its
	// actions and model, which never change.
	cmd, ok := s.recentCommand(c.AppID, commandID)
	var err error
	if !ok || cmd.ThingID != thingID {
		cmd, err = scanCommand(s.db.queryRow(ctx, "SELECT "+commandColumns+" FROM commands WHERE app_id = ? AND id = ? AND thing_id = ?",
			c.AppID, commandID, thingID), c.AppID, commandID)
	}
	if kumo.ErrorCode(err) == kumo.ErrCommandNotFound {
		// No such command of this thing: TARGET_NOT_FOUND when the thing
		// itself is missing (read only on this path).
		if terr := s.targetExists(ctx, c.AppID, thingID); terr != nil {
			return terr
		}
	}
	if err != nil {
		return err
	}
	cmd, err = cmd.ApplyActionResults(body)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE commands SET action_results = ?, state = ?, modified = ? WHERE app_id = ? AND id = ? AND thing_id = ?",
			string(cmd.ActionResults), string(cmd.State), tx.db.now(), c.AppID, commandID, thingID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 { // deleted since it was read or created (with its thing)
			ok, err := rowExists(ctx, tx, "SELECT 1 FROM things WHERE app_id = ? AND id = ?", c.AppID, thingID)
			if err != nil {
				return err
			}
			if !ok {
				return targetNotFound(c.AppID, thingID)
			}
			return commandNotFound(c.AppID, commandID)
		}
		return nil
	})
}
