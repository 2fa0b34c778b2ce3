package kumo_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
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
	"internal/servercode":         {""}, // server code (issue 13, engine)
	"internal/devlog":             {""}, // server code: sched (the developer log's WebSocket)

	// Test support: PostgreSQL databases for tests (see pgtest's doc).
	"internal/sqlstore/postgres/pgtest": {"internal/sqlstore/postgres"},
}

// thirdParty says which package alone may use each dependency (a value
// may list several packages, separated by spaces: gorilla/websocket
// serves both of Kumo's WebSocket endpoints, each in its own package).
var thirdParty = map[string]string{
	"modernc.org/sqlite":                  "internal/sqlstore/sqlite",
	"github.com/jackc/pgx":                "internal/sqlstore/postgres",
	"github.com/mochi-mqtt/server":        "internal/broker",
	"github.com/gorilla/websocket":        "internal/broker internal/devlog", // one dependency, the two WebSocket servers (MQTT over WebSocket, the developer log)
	"github.com/nats-io/nats.go":          "internal/nats",
	"github.com/dop251/goja":              "internal/servercode", // server code (issue 13, engine)
	"github.com/dlclark/regexp2":          "internal/servercode", // goja's regexp engine: its match timeout
	"github.com/eclipse/paho.mqtt.golang": "",                    // tests only (a real MQTT client to test against)
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
				if strings.HasPrefix(imp, dep) && !slices.Contains(strings.Fields(owner), pkg) {
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

// maxMethods is the most methods a type of the store may have: the store
// is one small service type per entity over a shared DB, and a type that
// grows past this is a second god object in the making.
const maxMethods = 60

// TestStoreTypesStaySmall counts the methods of every type declared in
// internal/sqlstore and its dialects (tests aside) and fails when one has
// more than maxMethods.
func TestStoreTypesStaySmall(t *testing.T) {
	for _, dir := range []string{"internal/sqlstore", "internal/sqlstore/sqlite", "internal/sqlstore/postgres"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		methods := map[string]int{}
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range file.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv == nil {
					continue
				}
				typ := fd.Recv.List[0].Type
				if star, ok := typ.(*ast.StarExpr); ok {
					typ = star.X
				}
				if idx, ok := typ.(*ast.IndexExpr); ok { // a generic type's methods
					typ = idx.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					methods[id.Name]++
				}
			}
		}
		if len(methods) == 0 {
			t.Fatalf("%s: no methods found: is the path right?", dir)
		}
		for typ, n := range methods {
			if n > maxMethods {
				t.Errorf("%s.%s has %d methods, more than %d: split it by entity", dir, typ, n, maxMethods)
			}
		}
	}
}
