package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kumo-iot/kumo"
)

// GatewayService implements kumo.GatewayService: the end nodes of
// gateways (the end_nodes table), their connection status and their
// tokens.
type GatewayService struct {
	db     *DB
	apps   *AppService
	things *ThingService
	tokens *TokenService
}

var _ kumo.GatewayService = (*GatewayService)(nil)

// gateway resolves a gateway selector and checks that c may manage its
// end nodes: the gateway itself, its owners, the admin.
func (s *GatewayService) gateway(ctx context.Context, c kumo.Caller, selector string) (kumo.Thing, error) {
	return s.things.thingFor(ctx, c, selector, true, "Managing the end nodes of")
}

// endNode resolves a gateway and one of its end nodes, c being allowed
// to manage the gateway's end nodes. THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY
// when the thing is not the gateway's end node.
func (s *GatewayService) endNode(ctx context.Context, c kumo.Caller, gateway, endNode string) (gw, en kumo.Thing, err error) {
	if gw, err = s.gateway(ctx, c, gateway); err != nil {
		return gw, en, err
	}
	if en, err = s.things.thing(ctx, c.AppID, endNode); err != nil {
		return gw, en, err
	}
	var n int
	err = s.db.queryRow(ctx, "SELECT COUNT(*) FROM end_nodes WHERE app_id = ? AND gateway_id = ? AND end_node_id = ?",
		c.AppID, gw.ID, en.ID).Scan(&n)
	if err == nil && n == 0 {
		err = notEndNodeOf(c.AppID, gw.ID, en.ID)
	}
	return gw, en, err
}

func notEndNodeOf(appID, gatewayID, endNodeID string) error {
	return kumo.Errorf(kumo.ErrEndNodeNotOfGateway, "Thing %s is not an end node of gateway %s", endNodeID, gatewayID).
		With("appID", appID).With("gatewayThingID", gatewayID).With("endNodeThingID", endNodeID)
}

// EndNodes implements kumo.GatewayService.
func (s *GatewayService) EndNodes(ctx context.Context, c kumo.Caller, gateway string, limit int, paginationKey string) ([]kumo.EndNode, string, error) {
	gw, err := s.gateway(ctx, c, gateway)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.query(ctx, `SELECT t.id, t.vendor_thing_id FROM end_nodes e
		JOIN things t ON t.app_id = e.app_id AND t.id = e.end_node_id
		WHERE e.app_id = ? AND e.gateway_id = ? AND e.end_node_id > ?
		ORDER BY e.end_node_id LIMIT ?`, c.AppID, gw.ID, paginationKey, limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []kumo.EndNode{}
	for rows.Next() {
		var en kumo.EndNode
		if err := rows.Scan(&en.ThingID, &en.VendorThingID); err != nil {
			return nil, "", err
		}
		out = append(out, en)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ThingID
	}
	return out, next, nil
}

// AddEndNode implements kumo.GatewayService.
func (s *GatewayService) AddEndNode(ctx context.Context, c kumo.Caller, gateway, endNode string) error {
	gw, err := s.gateway(ctx, c, gateway)
	if err != nil {
		return err
	}
	en, err := s.things.thing(ctx, c.AppID, endNode)
	if err != nil {
		return err
	}
	if gw.ID == en.ID {
		return kumo.InvalidInput(map[string]string{"endNode": "a gateway cannot be its own end node"})
	}
	ok, err := s.mayTake(ctx, c, gw.ID, en.ID)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "Only the admin, a user who owns thing %s, or the gateway that registered it while it has no owner may make it an end node of gateway %s", en.ID, gw.ID)
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		return linkEndNode(ctx, tx, c.AppID, gw.ID, en.ID, now)
	})
}

// mayTake reports whether c, who manages gateway gatewayID, may make thing
// endNodeID its end node (and so mint its tokens): the admin always; a
// user who owns the thing; otherwise only a thing with no owner that the
// caller or the gateway registered (things.registrar): kii_go's gateway
// registers its end node with its own token, then adds it. A thing owned by
// someone, or registered by another, cannot be taken: adding it would
// hand its tokens to whoever controls the gateway.
func (s *GatewayService) mayTake(ctx context.Context, c kumo.Caller, gatewayID, endNodeID string) (bool, error) {
	if c.IsAdmin() {
		return true, nil
	}
	if c.Kind == kumo.UserCaller {
		owns, err := s.things.ownsThing(ctx, c.AppID, endNodeID, c.ID)
		if err != nil || owns {
			return owns, err
		}
	}
	var owners int
	var by string
	err := s.db.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ?), registrar
		FROM things WHERE app_id = ? AND id = ?`, c.AppID, endNodeID, c.AppID, endNodeID).Scan(&owners, &by)
	if err != nil {
		return false, err
	}
	return owners == 0 && by != "" && (by == registrar(c) || by == "thing:"+gatewayID), nil
}

// linkEndNode makes endNodeID an end node of gatewayID within a write;
// nothing changes when it is already. THING_END_NODE_ALREADY_BELONGS_TO_GATEWAY
// when it is another gateway's; INVALID_INPUT_DATA when it is the
// gateway itself.
func linkEndNode(ctx context.Context, tx *Tx, appID, gatewayID, endNodeID string, now int64) error {
	if gatewayID == endNodeID {
		return kumo.InvalidInput(map[string]string{"endNode": "a gateway cannot be its own end node"})
	}
	var current string
	err := tx.QueryRow(ctx, "SELECT gateway_id FROM end_nodes WHERE app_id = ? AND end_node_id = ?", appID, endNodeID).Scan(&current)
	switch {
	case err == nil && current == gatewayID:
		return nil
	case err == nil:
		return kumo.Errorf(kumo.ErrEndNodeOfAnotherGateway, "Thing %s is an end node of another gateway", endNodeID).
			With("appID", appID).With("endNodeThingID", endNodeID)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO end_nodes (app_id, end_node_id, gateway_id, created) VALUES (?, ?, ?, ?)",
		appID, endNodeID, gatewayID, now)
	if tx.db.dialect.IsUniqueViolation(err) {
		// Linked to a gateway at the same moment.
		return kumo.Errorf(kumo.ErrEndNodeOfAnotherGateway, "Thing %s is an end node of another gateway", endNodeID).
			With("appID", appID).With("endNodeThingID", endNodeID)
	}
	return err
}

// RemoveEndNode implements kumo.GatewayService.
func (s *GatewayService) RemoveEndNode(ctx context.Context, c kumo.Caller, gateway, endNode string) error {
	gw, en, err := s.endNode(ctx, c, gateway, endNode)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM end_nodes WHERE app_id = ? AND gateway_id = ? AND end_node_id = ?", c.AppID, gw.ID, en.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notEndNodeOf(c.AppID, gw.ID, en.ID) // removed meanwhile
		}
		return nil
	})
}

// SetEndNodeOnline implements kumo.GatewayService: the end node's online
// status is written as the broker's presence writes a thing's
// (ThingService.SetThingOnline).
func (s *GatewayService) SetEndNodeOnline(ctx context.Context, c kumo.Caller, gateway, endNode string, online bool) error {
	_, en, err := s.endNode(ctx, c, gateway, endNode)
	if err != nil {
		return err
	}
	return s.things.SetThingOnline(ctx, c.AppID, en.ID, online)
}

// EndNodeToken implements kumo.GatewayService.
func (s *GatewayService) EndNodeToken(ctx context.Context, c kumo.Caller, gateway, endNode string, expiresIn int64) (kumo.Token, error) {
	_, en, err := s.endNode(ctx, c, gateway, endNode)
	if err != nil {
		return kumo.Token{}, err
	}
	if en.Disabled {
		return kumo.Token{}, kumo.Errorf(kumo.ErrThingDisabled, "Thing %s is disabled", en.ID).
			With("appID", c.AppID).With("thingID", en.ID)
	}
	p, err := s.apps.params(ctx, c.AppID)
	if err != nil {
		return kumo.Token{}, err
	}
	var expiresAt int64
	if expiresIn > 0 {
		expiresAt = min(s.db.now()+expiresIn*1000, kumo.MaxEpochMillis)
	}
	return s.tokens.issueToken(ctx, kumo.Caller{AppID: c.AppID, Kind: kumo.ThingCaller, ID: en.ID}, expiresAt, p, true)
}
