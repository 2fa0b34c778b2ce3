package bench

import (
	"testing"
	"time"
)

// TestCommandRunPublish plays a device of a command run: a command's
// push is answered with its action results over REST over MQTT, the
// answer completes the round trip, and a refused answer is counted, not
// taken for a success.
func TestCommandRunPublish(t *testing.T) {
	r := &commandRun{runner: &runner{tracker: newTracker(), progress: &progress{}}, pushes: newTracker(), done: newTracker()}
	d := &device{
		mqttTopic:     "dev",
		resultsPrefix: []byte("p/dev/thing-if/apps/a1/targets/thing:th.1/commands/"),
		resultsHead:   []byte("PUT\r\nAuthorization: Bearer tok\r\nContent-Type: " + commandResultsType + "\r\nX-Kii-RequestID: "),
	}
	now := time.Now()
	for _, id := range []string{"c-1", "c-2"} {
		r.pushes.ack(id, now)
		r.done.ack(id, now)
	}

	topic, reply := r.publish(d, []byte("dev"), []byte(`{"commandID":"c-1","target":"thing:th.1","actions":[{"benchAlias":[{"turnPower":true}]}]}`), now)
	if want := "p/dev/thing-if/apps/a1/targets/thing:th.1/commands/c-1/action-results"; string(topic) != want {
		t.Errorf("reply topic = %q, want %q", topic, want)
	}
	wantReply := "PUT\r\nAuthorization: Bearer tok\r\nContent-Type: " + commandResultsType + "\r\nX-Kii-RequestID: c-1\r\n\r\n" + actionResults
	if string(reply) != wantReply {
		t.Errorf("reply = %q, want %q", reply, wantReply)
	}
	if topic, _ := r.publish(d, []byte(topic), []byte("204\r\nX-Kii-RequestID:c-1\r\n\r\n"), now); topic != nil {
		t.Errorf("an answer was answered: %q", topic)
	}

	r.publish(d, []byte("dev"), []byte(`{"commandID":"c-2","actions":[]}`), now)
	r.publish(d, []byte("p/dev/x"), []byte("503\r\nX-Kii-RequestID:c-2\r\n\r\n{\"errorCode\":\"TEMPORARY_UNAVAILABLE_ERROR\"}"), now)

	if c := r.pushes.counts(); c.delivered != 2 {
		t.Errorf("pushes delivered = %d, want 2", c.delivered)
	}
	if c := r.done.counts(); c.delivered != 1 || c.acked-c.delivered != 1 {
		t.Errorf("round trips: %+v; want 1 completed and 1 lost", c)
	}
	if n := r.resultErrors.Load(); n != 1 {
		t.Errorf("result errors = %d, want 1", n)
	}
	if p := r.firstResultError.Load(); p == nil {
		t.Error("the first result error is not described")
	}
}
