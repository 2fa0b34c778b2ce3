package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestServerCodeDeviceSDK replays Kii's C device SDK (ebisu) server code
// test: its setup script deploys `echo` with curl as its initapp.sh does
// (an admin token from POST /api/oauth2/token with X-Kii-AppID and a dummy
// app key, the script as application/javascript, then PUT current as
// text/plain), and the thing executes it as kii_execute_server_code does,
// over HTTP/1.0 with lower-case headers, expecting 200 and
// {"returnedValue":"hello!"}.
func TestServerCodeDeviceSDK(t *testing.T) { forEachStore(t, testServerCodeDeviceSDK) }

func testServerCodeDeviceSDK(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	hdr := []string{"X-Kii-AppID", n.app.AppID, "X-Kii-AppKey", "dummy"}
	r := do(t, "POST", n.base+"/api/oauth2/token", fmt.Sprintf(`{"client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret),
		append(hdr, "Content-Type", "application/json")...)
	wantStatus(t, r, 200)
	admin := r.Str(t, "access_token")
	app := n.base + "/api/apps/" + n.app.AppID
	r = do(t, "POST", app+"/server-code", `function echo(params, context) { return params.message; }`,
		append(hdr, "Authorization", "Bearer "+admin, "Content-Type", "application/javascript")...)
	wantStatus(t, r, 201)
	version := r.Str(t, "versionID")
	r = do(t, "PUT", app+"/server-code/versions/current", version,
		append(hdr, "Authorization", "Bearer "+admin, "Content-Type", "text/plain")...)
	wantStatus(t, r, 204)

	d := n.mustDevice("ebisu-sc")
	host := strings.TrimPrefix(n.base, "http://")
	body := `{"message":"hello!"}`
	conn := rawConn(t, n)
	if _, err := fmt.Fprintf(conn, "POST /api/apps/%s/server-code/versions/current/echo HTTP/1.0\r\nhost: %s\r\nx-kii-appid: %s\r\nx-kii-appkey: %s\r\nauthorization: bearer %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s",
		n.app.AppID, host, n.app.AppID, n.app.AppKey, d.Token, len(body), body); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(conn) // HTTP/1.0: the body ends when the server closes
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !strings.HasPrefix(string(all), "HTTP/1.1 200 ") {
		t.Fatalf("response:\n%s", all)
	}
	_, respBody, _ := strings.Cut(string(all), "\r\n\r\n")
	var got struct {
		ReturnedValue string `json:"returnedValue"`
	}
	if err := json.Unmarshal([]byte(respBody), &got); err != nil || got.ReturnedValue != "hello!" {
		t.Fatalf("body %q (%v), want {\"returnedValue\":\"hello!\"}", respBody, err)
	}
}
