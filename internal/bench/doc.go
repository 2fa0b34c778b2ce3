// Package bench drives a Kumo server the way a fleet of devices would and
// measures the push flow: objects/s with the push delivered, POST-to-push
// latency, lost and duplicated pushes. It is the engine of "kumo bench".
//
// The driver speaks only the public protocols, so it can measure any
// Kii-compatible server given its base URL and an app's credentials:
//
//  1. an admin token (client_credentials grant);
//  2. N things, each with an MQTT installation, a push subscription to its
//     own bucket "bench", and a connected MQTT client subscribed to its
//     mqttTopic;
//  3. C HTTP workers creating objects in the things' buckets, round-robin,
//     optionally paced to a global rate;
//  4. every push is matched by objectID with the POST that caused it; the
//     latency is the time from just before the POST was sent to the push's
//     arrival.
//
// RunTopic ("kumo bench topic") measures a topic's fan-out instead: the
// N things subscribe to one app-scope topic, messages are sent to it one
// at a time, and each fan-out is timed from the send's 201 to the last
// device's delivery, next to a raw broker fan-out of the same payload
// size in the same run.
package bench
