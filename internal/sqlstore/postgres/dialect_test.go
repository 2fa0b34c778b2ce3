package postgres_test

import (
	"strings"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
)

func TestRebind(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", "SELECT 1", "SELECT 1"},
		{"two", "SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"ten and more", strings.Repeat("?,", 11) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12"},
		{"adjacent", "(?,?)", "($1,$2)"},
		{"in a string literal", "SELECT '?' , ? FROM t WHERE a = 'x?y'", "SELECT '?' , $1 FROM t WHERE a = 'x?y'"},
		{"escaped quote in a literal", "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"quoted identifier", `SELECT "a?b" FROM t WHERE c = ?`, `SELECT "a?b" FROM t WHERE c = $1`},
		{"line comment", "SELECT ? -- why?\nFROM t WHERE a = ?", "SELECT $1 -- why?\nFROM t WHERE a = $2"},
		{"block comment", "SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"unterminated literal", "SELECT ? 'abc?", "SELECT $1 'abc?"},
		{"unterminated comment", "SELECT ? /* ?", "SELECT $1 /* ?"},
		{"line comment at the end", "SELECT ? -- ?", "SELECT $1 -- ?"},
		{"minus and slash alone", "SELECT ? - ? / ?", "SELECT $1 - $2 / $3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (postgres.Dialect{}).Rebind(tt.in); got != tt.want {
				t.Errorf("Rebind(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://kumo:s3cret@db.example.com:5432/kumo?sslmode=require", "postgres://kumo:xxxxx@db.example.com:5432/kumo?sslmode=require"},
		{"postgresql://kumo@db/kumo", "postgresql://kumo@db/kumo"},
		{"postgres://db/kumo?user=kumo&password=s3cret", "postgres://db/kumo?password=xxxxx&user=kumo"},
		{"postgres://kumo:p%40ss@db/kumo", "postgres://kumo:xxxxx@db/kumo"},
		{"postgres://kumo:s3cret@db:bad port/kumo", "postgres://(unparsable URL)"},
	}
	for _, tt := range tests {
		got := postgres.Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "p%40ss") {
			t.Errorf("Redact(%q) = %q: the password is still there", tt.in, got)
		}
	}
}

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://db/kumo": true, "postgresql://db/kumo": true,
		"": false, "./kumo-data/kumo.db": false, "host=db dbname=kumo": false, "mysql://db/kumo": false,
	} {
		if got := postgres.IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}
