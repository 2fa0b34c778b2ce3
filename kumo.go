// Package kumo is the domain of Kumo, a self-hosted server that speaks the
// Kii Cloud API: its vocabulary, its rules and the interfaces of its
// services. It knows nothing of HTTP, SQL or MQTT; those live in the
// adapters under internal/ and are wired together by cmd/kumo.
//
// Vocabulary (Kii's own words):
//
//   - An App is a tenant. Everything else lives inside one app.
//   - A Caller is who makes a request: the app admin, a user, a thing, or
//     an anonymous client.
//   - A Thing is a device with a vendor thing ID and a password.
//   - A Scope is where data lives: the app itself, a user, a group or a
//     thing. A Bucket is a named collection of JSON Objects in a scope.
//   - An Installation is a push target: a phone token or an MQTT device.
//     An MQTT installation has an endpoint (username, password, topic).
//   - A Subscription ties a user or thing to a bucket ("push to app"):
//     every change in the bucket becomes an Event, and the push dispatcher
//     turns each event into a Delivery to every MQTT installation of every
//     subscriber.
//
// How the parts fit: a write and the events it causes commit in one
// transaction (the outbox). The dispatcher (internal/push) claims committed
// events, renders Kii's push JSON and hands deliveries to a bus, which
// carries each to the node that holds the device's MQTT connection
// (internal/broker). An interface that one adapter alone uses is declared
// in that adapter (push.Outbox, push.Bus, broker.Presence), not here.
package kumo
