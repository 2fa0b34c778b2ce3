package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AdvanceSerial moves the sequence of table's serial column past the
// greatest value in the table, never back (storecopy.SerialAdvancer):
// kumo copy inserts the values of serial columns (outbox seqs, delivery
// IDs) as they are, which a PostgreSQL sequence does not follow. An empty
// table leaves the sequence as it is; a column without a sequence is an
// error.
func (Dialect) AdvanceSerial(ctx context.Context, db *sql.DB, table, column string) error {
	var seq sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT pg_get_serial_sequence($1, $2)", table, column).Scan(&seq); err != nil {
		return err
	}
	if !seq.Valid {
		return fmt.Errorf("column %s of table %s has no sequence", column, table)
	}
	// pg_sequence_last_value is NULL until the sequence gives a value.
	_, err := db.ExecContext(ctx, fmt.Sprintf(
		"SELECT setval($1::regclass, m) FROM (SELECT MAX(%s) AS m FROM %s) x WHERE m > COALESCE(pg_sequence_last_value($1::regclass), 0)",
		pgx.Identifier{column}.Sanitize(), pgx.Identifier{table}.Sanitize()), seq.String)
	return err
}
