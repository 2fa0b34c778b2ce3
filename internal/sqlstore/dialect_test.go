package sqlstore_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The SQL that only one database understands, which must stay in its
// dialect's package (sqlstore/postgres or sqlstore/sqlite).
var (
	postgresOnlySQL = map[string]*regexp.Regexp{
		"unnest":                 regexp.MustCompile(`(?i)\bunnest\s*\(`),
		"::cast":                 regexp.MustCompile(`::\s*[a-z]`),
		"= ANY":                  regexp.MustCompile(`(?i)\bANY\s*\(`),
		"FOR SHARE":              regexp.MustCompile(`(?i)\bFOR\s+(NO\s+KEY\s+)?SHARE\b`),
		"FOR UPDATE":             regexp.MustCompile(`(?i)\bFOR\s+(NO\s+KEY\s+)?UPDATE\b`),
		"SKIP LOCKED":            regexp.MustCompile(`(?i)\bSKIP\s+LOCKED\b`),
		"NOWAIT":                 regexp.MustCompile(`(?i)\bNOWAIT\b`),
		"pg_ function or table":  regexp.MustCompile(`(?i)\bpg_[a-z_]+`),
		"ILIKE":                  regexp.MustCompile(`(?i)\bILIKE\b`),
		"jsonb":                  regexp.MustCompile(`(?i)\bjsonb`),
		"SERIAL":                 regexp.MustCompile(`(?i)\b(BIG|SMALL)?SERIAL\b`),
		"DISTINCT ON":            regexp.MustCompile(`(?i)\bDISTINCT\s+ON\b`),
		"ANALYZE":                regexp.MustCompile(`^\s*ANALYZE\b`), // case-sensitive: a log message may say "analyze"
		"advisory lock":          regexp.MustCompile(`(?i)advisory_`),
		"information_schema":     regexp.MustCompile(`(?i)\binformation_schema\b`),
		"array literal or ARRAY": regexp.MustCompile(`(?i)\bARRAY\s*\[`),
	}
	sqliteOnlySQL = map[string]*regexp.Regexp{
		"INSERT OR IGNORE/REPLACE": regexp.MustCompile(`(?i)\b(INSERT|REPLACE|UPDATE)\s+OR\s+(IGNORE|REPLACE|ABORT|FAIL|ROLLBACK)\b`),
		"PRAGMA":                   regexp.MustCompile(`(?i)\bPRAGMA\b`),
		"sqlite_ table":            regexp.MustCompile(`(?i)\bsqlite_[a-z_]+`),
		"AUTOINCREMENT":            regexp.MustCompile(`(?i)\bAUTOINCREMENT\b`),
		"GLOB":                     regexp.MustCompile(`(?i)\bGLOB\b`),
		"rowid":                    regexp.MustCompile(`(?i)\b_?rowid_?\b`),
		"WITHOUT ROWID":            regexp.MustCompile(`(?i)\bWITHOUT\s+ROWID\b`),
		"json_extract":             regexp.MustCompile(`(?i)\bjson_extract\s*\(`),
	}
)

// TestNoDialectSQLInSharedCode: the shared store (this package), kumo
// copy and the query compiler hold no SQL that only PostgreSQL or only
// SQLite understands, and each dialect's package none of the other's. What
// differs is the dialects' behaviour (dialect.go). Only the string
// literals of non-test files are read: comments may name such SQL.
func TestNoDialectSQLInSharedCode(t *testing.T) {
	both := mergePatterns(postgresOnlySQL, sqliteOnlySQL)
	for _, c := range []struct {
		dir      string
		patterns map[string]*regexp.Regexp
	}{
		{".", both},
		{"../storecopy", both},
		{"../kql", both},
		{"postgres", sqliteOnlySQL},
		{"sqlite", postgresOnlySQL},
	} {
		files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", c.dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			for _, lit := range stringLiterals(t, path) {
				for name, re := range c.patterns {
					if re.MatchString(lit.value) {
						t.Errorf("%s: %s in shared SQL: %q", lit.pos, name, lit.value)
					}
				}
			}
		}
	}
}

// TestDialectSQLPatterns checks the patterns against SQL they must catch
// and portable SQL they must not.
func TestDialectSQLPatterns(t *testing.T) {
	caught := map[string]string{
		"SELECT ?, * FROM unnest(?::text[])":                                 "unnest",
		"WHERE seq = ANY(?)":                                                 "= ANY",
		"SELECT 1 FROM users WHERE id = ? FOR SHARE":                         "FOR SHARE",
		"SELECT seq FROM outbox ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED": "FOR UPDATE",
		"SELECT pg_get_serial_sequence('objects', 'id')":                     "pg_ function or table",
		"INSERT OR IGNORE INTO push_deliveries (app_id) VALUES (?)":          "INSERT OR IGNORE/REPLACE",
		"PRAGMA wal_checkpoint(PASSIVE)":                                     "PRAGMA",
		"SELECT name FROM sqlite_master":                                     "sqlite_ table",
		"SELECT CAST(? AS TEXT), x::float8 FROM t":                           "::cast",
		"ANALYZE object_fields":                                              "ANALYZE",
	}
	both := mergePatterns(postgresOnlySQL, sqliteOnlySQL)
	for sql, name := range caught {
		if !both[name].MatchString(sql) {
			t.Errorf("pattern %s misses %q", name, sql)
		}
	}
	for _, sql := range []string{
		"INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		"DELETE FROM outbox WHERE seq <= ?",
		"UPDATE phone_pushes SET claimed_by = ?, claimed_until = ? WHERE id = ?",
		"SELECT COALESCE(MAX(seq), 0) FROM outbox",
		"user:abc",
	} {
		for name, re := range both {
			if re.MatchString(sql) {
				t.Errorf("pattern %s catches portable SQL %q", name, sql)
			}
		}
	}
}

func mergePatterns(ms ...map[string]*regexp.Regexp) map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

type literal struct {
	pos   token.Position
	value string
}

// stringLiterals returns the string literals of the Go file at path.
func stringLiterals(t *testing.T, path string) []literal {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []literal
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, literal{pos: fset.Position(lit.Pos()), value: v})
			}
		}
		return true
	})
	return out
}
