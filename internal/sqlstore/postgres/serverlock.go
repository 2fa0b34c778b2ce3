package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverLock is the key of the advisory lock "kumo serve" holds on its
// database for as long as it runs ("kumo" "serv" in ASCII): exclusive for
// a node started without a cluster, shared by the nodes of a cluster.
const serverLock int64 = 0x6b756d6f_73657276

// ServerLock is a held server lock: a connection of its own, whose
// session holds the advisory lock. PostgreSQL releases it when the session
// ends, however it ends.
type ServerLock struct{ conn *pgx.Conn }

// LockServer takes the server lock of the database at rawURL for the node
// named name: exclusive when cluster is false (one node alone on the
// database), shared when it is true (the nodes of a cluster). It fails at
// once, naming the nodes that hold the lock, when it is taken the other
// way.
func LockServer(ctx context.Context, rawURL, name string, cluster bool) (*ServerLock, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = truncate("kumo serve "+name, 63)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fn := "pg_try_advisory_lock"
	if cluster {
		fn = "pg_try_advisory_lock_shared"
	}
	var holders []string
	for attempt := 0; len(holders) == 0; attempt++ {
		var held bool
		if err := conn.QueryRow(ctx, "SELECT "+fn+"($1)", serverLock).Scan(&held); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("take the server lock: %w", err)
		}
		if held {
			return &ServerLock{conn: conn}, nil
		}
		// Refused: by whom? (Asked again when the holder left meanwhile.)
		if holders, err = lockHolders(ctx, conn); err != nil || (len(holders) == 0 && attempt == 2) {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("the database is in use by another kumo serve (its holders cannot be read: %v)", err)
		}
	}
	conn.Close(context.WithoutCancel(ctx))
	if cluster {
		return nil, fmt.Errorf("the database is in use by %s, started without --nats: a node alone on its database; stop it, or start every node with --nats", strings.Join(holders, ", "))
	}
	return nil, fmt.Errorf("the database is in use by %s: one kumo serve per database, unless they are the nodes of a cluster (--nats)", strings.Join(holders, ", "))
}

// lockHolders describes the sessions holding the server lock, e.g.
// `kumo serve "node-a" (PostgreSQL backend pid 42, from 10.0.0.5, since
// 2026-01-02T15:04:05Z)`.
func lockHolders(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT a.application_name, a.pid, COALESCE(host(a.client_addr), 'a local socket'), a.backend_start
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
		ORDER BY a.backend_start`, serverLock>>32, serverLock&0xffffffff)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var holders []string
	for rows.Next() {
		var (
			app, from string
			pid       int
			since     time.Time
		)
		if err := rows.Scan(&app, &pid, &from, &since); err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(app, "kumo serve ")
		holders = append(holders, fmt.Sprintf("kumo serve %q (PostgreSQL backend pid %d, from %s, since %s)", name, pid, from, since.UTC().Format(time.RFC3339)))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return holders, nil
}

// Close releases the lock (ends its session).
func (l *ServerLock) Close() error {
	if l == nil || l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.conn.Close(ctx)
	l.conn = nil
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
