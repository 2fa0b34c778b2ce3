// Package bench drives a Kumo server the way a fleet of devices would and
// measures it: objects/s with the push delivered, POST-to-push latency,
// lost pushes. It is the engine of "kumo bench".
package bench

import _ "github.com/eclipse/paho.mqtt.golang" // the MQTT client of the simulated devices
