package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The load workers create objects with as few allocations as net/http
// allows, since the garbage of the load generator is collected in the
// same process as the server's: every device's URL and headers are
// prepared once, a request and its body are one allocation, the answer is
// read into a reused buffer and its objectID found without a JSON decoder.

// objectTarget is where, and as whom, a device creates its objects.
type objectTarget struct {
	url    *url.URL    // read-only: shared by all the device's requests
	header http.Header // read-only: Content-Type and Authorization
}

// objectTarget prepares the creation of objects in bucket of thing thingID
// with token.
func (c *apiClient) objectTarget(token, thingID, bucket string) (objectTarget, error) {
	u, err := url.Parse(c.app + objectsPath(thingID, bucket))
	if err != nil {
		return objectTarget{}, err
	}
	return objectTarget{url: u, header: http.Header{
		"Content-Type":  {jsonType},
		"Authorization": {"Bearer " + token},
	}}, nil
}

// objectPoster creates objects for one load worker. It sends its requests
// straight to the transport: an http.Client would copy the headers (for
// redirects) and set up a timer and a context for its Timeout on every
// request; the transport's ResponseHeaderTimeout bounds the wait instead.
type objectPoster struct {
	rt   http.RoundTripper
	tmpl *http.Request // the context, method and protocol of every request
	buf  []byte        // the answer being read; reused
}

// newPoster returns a poster whose requests stop when ctx is done.
func (c *apiClient) newPoster(ctx context.Context) (*objectPoster, error) {
	tmpl, err := http.NewRequestWithContext(ctx, http.MethodPost, c.app, nil)
	if err != nil {
		return nil, err
	}
	return &objectPoster{rt: c.rt, tmpl: tmpl, buf: make([]byte, 0, 512)}, nil
}

// postRequest is a request and its body, allocated together.
type postRequest struct {
	req  http.Request
	body objectBody
}

// post creates object seq (see appendObject) at t and returns its ID.
func (p *objectPoster) post(t objectTarget, seq int64) (string, error) {
	pr := &postRequest{req: *p.tmpl} // as http.Request.WithContext copies a request
	pr.body.b = appendObject(pr.body.arr[:0], seq)
	req := &pr.req
	req.URL, req.Host, req.Header = t.url, t.url.Host, t.header
	req.Body, req.GetBody, req.ContentLength = &pr.body, pr.body.reopen, int64(len(pr.body.b))

	resp, err := p.rt.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", t.url.Path, err)
	}
	b, err := readAnswer(p.buf[:0], resp.Body)
	resp.Body.Close()
	p.buf = b[:0]
	if err != nil {
		return "", fmt.Errorf("POST %s: read answer: %w", t.url.Path, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", &statusError{method: http.MethodPost, path: t.url.Path, status: resp.StatusCode, body: snippet(b)}
	}
	id, err := answerObjectID(b)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", t.url.Path, err)
	}
	return id, nil
}

// maxAnswer is how much of an answer is read.
const maxAnswer = 1 << 20

// readAnswer appends to b what r yields, at most maxAnswer bytes.
func readAnswer(b []byte, r io.Reader) ([]byte, error) {
	for len(b) < maxAnswer {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), maxAnswer)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// answerObjectID returns the objectID of the answer to an object creation.
func answerObjectID(b []byte) (string, error) {
	id, ok := stringField(b, objectIDKey)
	if !ok {
		// Escapes, or not JSON: let a decoder say.
		var out struct {
			ObjectID string `json:"objectID"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return "", fmt.Errorf("decode answer: %w", err)
		}
		id = []byte(out.ObjectID)
	}
	if len(id) == 0 {
		return "", errors.New("no objectID in the answer")
	}
	return string(id), nil
}

// objectIDKey is the key of the objectID member, quoted.
var objectIDKey = []byte(`"objectID"`)

// stringField returns the string value of the member whose quoted key is
// key, in a JSON object whose values are flat, such as the answers and
// pushes of Kii and Kumo: compact, as encoding/json writes them, or
// spaced ("key" : "value"), as Kii's servers print them. A key cannot be
// matched inside a string, where its quotes would be escaped, and a value
// equal to the key is skipped, as no colon follows it. ok is false when
// there is no such member, or its value is not a string or has escapes:
// only a JSON decoder can read it then.
func stringField(b, key []byte) (value []byte, ok bool) {
	for {
		i := bytes.Index(b, key)
		if i < 0 {
			return nil, false
		}
		b = skipSpace(b[i+len(key):])
		if len(b) == 0 || b[0] != ':' {
			continue // a value, not a key
		}
		b = skipSpace(b[1:])
		if len(b) == 0 || b[0] != '"' {
			return nil, false
		}
		b = b[1:]
		j := bytes.IndexByte(b, '"')
		if j < 0 || bytes.IndexByte(b[:j], '\\') >= 0 {
			return nil, false
		}
		return b[:j], true
	}
}

// skipSpace returns b without its leading JSON whitespace.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// objectBody is the body of an object creation: a reader of b, which is
// usually arr. The transport may read and close it after RoundTrip
// returns, so it is never reused.
type objectBody struct {
	b   []byte
	off int
	arr [112]byte // fits appendObject of any seq
}

func (o *objectBody) Read(p []byte) (int, error) {
	if o.off >= len(o.b) {
		return 0, io.EOF
	}
	n := copy(p, o.b[o.off:])
	o.off += n
	return n, nil
}

func (o *objectBody) Close() error { return nil }

// reopen is the request's GetBody: a new reader of the same bytes, for
// the transport to send the request again on another connection.
func (o *objectBody) reopen() (io.ReadCloser, error) {
	return &objectBody{b: o.b}, nil
}

// appendObject appends the JSON of object seq to b.
func appendObject(b []byte, seq int64) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"payload":"`...)
	b = append(b, payload...)
	return append(b, `"}`...)
}
