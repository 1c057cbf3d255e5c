package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/pgtest"
)

func init() {
	extraStores = append(extraStores, namedStore{"postgres", openPostgres})
}

// openPostgres opens a postgres store on a fresh database of the package's throwaway server.
func openPostgres(t *testing.T, opts ...Option) Store {
	t.Helper()
	return openPostgresURL(t, pgtest.URL(t), opts...)
}

func openPostgresURL(t *testing.T, url string, opts ...Option) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenPostgres(ctx, url, opts...)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
