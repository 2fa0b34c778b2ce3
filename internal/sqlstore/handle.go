package sqlstore

import (
	"database/sql"
	"strings"
)

// The handles below give tools that work on a whole database (kumo copy,
// internal/storecopy) what they need of a store beside its services.

// WriteDB returns the pool of the writer's database. What is written
// through it bypasses the group-commit writer: only for tools that write
// while no server uses the store.
func (db *DB) WriteDB() *sql.DB { return db.write }

// Dialect returns the store's dialect (sqlite.Dialect or
// postgres.Dialect), whose optional behaviours tools look for.
func (db *DB) Dialect() Dialect { return db.dialect }

// placeholders returns n "?" placeholders separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
