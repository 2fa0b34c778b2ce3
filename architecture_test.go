package kumo_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kumo-iot/kumo"

// allowedImports is ARCHITECTURE.md's import table: what each package may
// import from the module (tests excepted). cmd/kumo may import anything.
var allowedImports = map[string][]string{
	"":                            {},
	"internal/auth":               {""},
	"internal/kql":                {""},
	"internal/sqlstore":           {"", "internal/kql"},
	"internal/sqlstore/sqlite":    {"", "internal/sqlstore"},
	"internal/sqlstore/postgres":  {"", "internal/sqlstore"},
	"internal/sqlstore/storetest": {"", "internal/sqlstore", "internal/auth"},
	"internal/storecopy":          {"", "internal/sqlstore"},
	"internal/api":                {"", "internal/auth", "internal/throttle"},
	"internal/push":               {""},
	"internal/broker":             {"", "internal/auth", "internal/throttle"},
	"internal/inmem":              {""},
	"internal/nats":               {""},
	"internal/bench":              {""},
	"internal/phone":              {""},
	"internal/throttle":           {},

	// Test support: PostgreSQL databases for tests (see pgtest's doc).
	"internal/sqlstore/postgres/pgtest": {"internal/sqlstore/postgres"},
}

// thirdParty says which package alone may use each dependency.
var thirdParty = map[string]string{
	"modernc.org/sqlite":                  "internal/sqlstore/sqlite",
	"github.com/jackc/pgx":                "internal/sqlstore/postgres",
	"github.com/mochi-mqtt/server":        "internal/broker",
	"github.com/gorilla/websocket":        "internal/broker",
	"github.com/nats-io/nats.go":          "internal/nats",
	"github.com/eclipse/paho.mqtt.golang": "", // tests only (a real MQTT client to test against)
}

// TestImportRules checks the dependency direction of ARCHITECTURE.md: the
// domain imports nothing of the module, adapters depend inward, and each
// third-party dependency lives in one package.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		if pkg == "cmd/kumo" {
			continue
		}
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("package %s is not in the import table of ARCHITECTURE.md; add it there and here", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				rel = strings.TrimPrefix(rel, "/")
				if !contains(allowed, rel) {
					t.Errorf("%s imports %s, which it may not", pkgName(pkg), imp)
				}
				continue
			}
			for dep, owner := range thirdParty {
				if strings.HasPrefix(imp, dep) && pkg != owner {
					t.Errorf("%s imports %s, which only %s may use", pkgName(pkg), imp, owner)
				}
			}
		}
	}
}

func pkgName(p string) string {
	if p == "" {
		return "kumo"
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
