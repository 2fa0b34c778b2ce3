// Package push turns committed events into Kii push messages and hands
// them to the bus: the dispatcher claims events from the outbox, finds the
// MQTT topics of every subscriber, renders the payload once per event and
// publishes one delivery per topic.
package push

import (
	"encoding/json"

	"github.com/kumo-iot/kumo"
)

// bucketEvent is a push-to-app message as an MQTT subscriber receives it:
// Kii's metadata keys, flat, in this order (spec push-mqtt §5.2, §9.4).
type bucketEvent struct {
	Type               kumo.EventType `json:"type"`
	Origin             string         `json:"origin"`
	When               int64          `json:"when"`
	Sender             string         `json:"sender,omitempty"`
	ObjectScopeType    kumo.ScopeKind `json:"objectScopeType"`
	ObjectScopeAppID   string         `json:"objectScopeAppID"`
	ObjectScopeUserID  string         `json:"objectScopeUserID,omitempty"`
	ObjectScopeGroupID string         `json:"objectScopeGroupID,omitempty"`
	ObjectScopeThingID string         `json:"objectScopeThingID,omitempty"`
	BucketID           string         `json:"bucketID"`
	BucketType         string         `json:"bucketType"`
	ObjectID           string         `json:"objectID,omitempty"`
	ModifiedAt         int64          `json:"modifiedAt,omitempty"`
	SourceURI          string         `json:"sourceURI"`
	SenderURI          string         `json:"senderURI,omitempty"`
}

// EventPayload renders the push-to-app message of e.
func EventPayload(e kumo.Event) []byte {
	b := e.Bucket
	m := bucketEvent{
		Type: e.Type, Origin: "EVENT", When: e.When,
		ObjectScopeType: b.Scope.Kind, ObjectScopeAppID: b.AppID,
		BucketID: b.Name, BucketType: b.Type(), ObjectID: e.ObjectID,
	}
	switch b.Scope.Kind {
	case kumo.ScopeUser:
		m.ObjectScopeUserID = b.Scope.ID
	case kumo.ScopeGroup:
		m.ObjectScopeGroupID = b.Scope.ID
	case kumo.ScopeThing:
		m.ObjectScopeThingID = b.Scope.ID
	}
	switch e.Type {
	case kumo.DataObjectCreated, kumo.DataObjectUpdated, kumo.DataObjectBodyUpdated:
		m.ModifiedAt = e.ModifiedAt
	case kumo.BucketDeleted:
		m.ObjectID = ""
	}
	m.SourceURI = "kiicloud:/" + b.Scope.Path() + "/buckets/" + b.Name
	if m.ObjectID != "" {
		m.SourceURI += "/objects/" + m.ObjectID
	}
	switch e.Sender.Kind {
	case kumo.UserCaller:
		m.Sender, m.SenderURI = e.Sender.ID, "kiicloud://users/"+e.Sender.ID
	case kumo.ThingCaller:
		m.Sender, m.SenderURI = e.Sender.ID, "kiicloud://things/"+e.Sender.ID
	case kumo.Admin:
		m.SenderURI = "kiicloud://admins/APP_ADMIN"
	}
	out, _ := json.Marshal(m) // a struct of strings and integers always marshals
	return out
}
