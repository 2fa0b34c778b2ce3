package sqlstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// TestSQLBlobsReadInPieces: a reader of a blob in the database holds at
// most BlobReadPiece bytes between reads (not a whole chunk, which a slow
// client would pin), and reads every range right across chunks.
func TestSQLBlobsReadInPieces(t *testing.T) {
	if os.Getenv("KUMO_TEST_POSTGRES") == "" {
		t.Skip("KUMO_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db := openOpened(t, func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, url) })
	data := make([]byte, 2*sqlstore.BlobChunkSize+12345)
	for i := range data {
		data[i] = byte(i*31 + i/1000)
	}
	if _, err := db.Blobs.Create(ctx, "b1", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		off, n int64
	}{
		{"whole", 0, int64(len(data))},
		{"from inside a piece", 1000, int64(len(data)) - 1000},
		{"across a chunk's end", sqlstore.BlobChunkSize - 100, 300},
		{"last bytes", int64(len(data)) - 10, 10},
		{"one piece and a byte", 5, sqlstore.BlobReadPiece + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := db.Blobs.Open(ctx, "b1", tt.off, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got bytes.Buffer
			one := make([]byte, 1)
			for {
				k, err := r.Read(one) // a slow client: a byte at a time
				got.Write(one[:k])
				if h := sqlstore.BlobReaderHeld(r); h > sqlstore.BlobReadPiece {
					t.Fatalf("after %d bytes the reader holds %d bytes, more than %d", got.Len(), h, sqlstore.BlobReadPiece)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d bytes: %v", got.Len(), err)
				}
				if got.Len() > 3*sqlstore.BlobReadPiece { // enough: read the rest fast
					rest, err := io.ReadAll(r)
					if err != nil {
						t.Fatal(err)
					}
					got.Write(rest)
					break
				}
			}
			if want := data[tt.off : tt.off+tt.n]; !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("read %d bytes, want %d (equal: false)", got.Len(), len(want))
			}
		})
	}
}
