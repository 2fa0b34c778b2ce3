package api

import (
	"net/http"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// handleDeliveries serves GET /api/apps/{appID}/push/deliveries (the
// delivery ledger, a Kumo extension; admin only): the records selected by
// ?installationID=, ?thingID=, ?userID=, ?messageID=, oldest first, at
// most ?limit= (default and maximum 1000) after ?paginationKey=. 200
// {"deliveries":[…],"nextPaginationKey"} (the key only when more follow).
func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if s.Ledger == nil {
		return kumo.Errorf(kumo.ErrNotFound, "This server keeps no delivery ledger (--ledger-retention 0)")
	}
	q := r.URL.Query()
	f := kumo.DeliveryFilter{InstallationID: q.Get("installationID"), ThingID: q.Get("thingID"),
		UserID: q.Get("userID"), MessageID: q.Get("messageID")}
	if v := q.Get("paginationKey"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return kumo.InvalidInput(map[string]string{"paginationKey": "was not issued by this server"})
		}
		f.After = n
	}
	var err error
	if f.Limit, err = queryLimit(r); err != nil {
		return err
	}
	rs, next, err := s.Ledger.Deliveries(r.Context(), c, f)
	if err != nil {
		return err
	}
	list := make([]any, len(rs))
	for i, d := range rs {
		m := map[string]any{"deliveryID": d.ID, "state": d.State, "deviceType": d.DeviceType,
			"installationID": d.InstallationID, "created": d.Created, "modified": d.Updated}
		if d.MessageID != "" {
			m["pushMessageID"] = d.MessageID
		}
		if d.EventType != "" && d.EventType != kumo.PushMessageSent {
			m["eventType"] = d.EventType
		}
		if d.Reason != "" {
			m["reason"] = d.Reason
		}
		switch d.Owner.Kind {
		case kumo.UserCaller:
			m["userID"] = d.Owner.ID
		case kumo.ThingCaller:
			m["thingID"] = d.Owner.ID
		}
		list[i] = m
	}
	out := map[string]any{"deliveries": list}
	if next != 0 {
		out["nextPaginationKey"] = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.PushDeliveriesRetrievalResponse+json", out)
	return nil
}
