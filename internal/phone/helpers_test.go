package phone

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is one scripted answer of a fake provider.
type answer struct {
	status int
	header map[string]string
	body   string
}

// recorded is one request a fake provider received.
type recorded struct {
	method, path string
	proto        int
	header       http.Header
	body         []byte
}

// fake is a scripted provider endpoint: it records each request and gives
// the next scripted answer (200 {} once the script is done).
type fake struct {
	mu      sync.Mutex
	reqs    []recorded
	answers []answer
	check   func(r *http.Request) string // "" or why the request is wrong
	errs    []string
	// tokenAnswers answer a request for a registration token (FCM's body
	// "token") before the script.
	tokenAnswers map[string]answer
}

func (f *fake) script(as ...answer) {
	f.mu.Lock()
	f.answers = append(f.answers, as...)
	f.mu.Unlock()
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.ProtoMajor, r.Header.Clone(), b})
	if f.check != nil {
		if why := f.check(r); why != "" {
			f.errs = append(f.errs, why)
		}
	}
	a := answer{status: 200, body: "{}"}
	matched := false
	for tok, ans := range f.tokenAnswers {
		if strings.Contains(string(b), `"token":"`+tok+`"`) {
			a, matched = ans, true
		}
	}
	if !matched && len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// requests returns the requests received so far and reports the checks
// that failed.
func (f *fake) requests(t *testing.T) []recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.errs {
		t.Error(e)
	}
	f.errs = nil
	return append([]recorded(nil), f.reqs...)
}

// waits records the backoff waits of a sender without waiting.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.ds = append(w.ds, d)
	w.mu.Unlock()
	return nil
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey returns an RSA key shared by the tests (generating one is
// slow).
func testRSAKey(t *testing.T) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// serviceAccount returns a service account key file of key whose token
// endpoint is tokenURI.
func serviceAccount(t *testing.T, key *rsa.PrivateKey, tokenURI string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj-1", "private_key_id": "kid-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sender@proj-1.iam.gserviceaccount.com", "token_uri": tokenURI,
	})
	return b
}

// p8 returns a new APNs key and its .p8 file.
func p8(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// parseJWT verifies a compact JWS with verify and returns its header and
// claims, or why it is not valid.
func parseJWT(token string, verify func(signing, sig []byte) bool) (header, claims map[string]any, why string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, "not a compact JWT: " + token
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !verify([]byte(parts[0]+"."+parts[1]), sig) {
		return nil, nil, "bad JWT signature"
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return nil, nil, "bad JWT part"
		}
	}
	return header, claims, ""
}

func verifyRS256(pub *rsa.PublicKey) func(signing, sig []byte) bool {
	return func(signing, sig []byte) bool {
		sum := sha256.Sum256(signing)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	}
}

func verifyES256(pub *ecdsa.PublicKey) func(signing, sig []byte) bool {
	return func(signing, sig []byte) bool {
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(signing)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, sum[:], r, s)
	}
}
