package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Wrap(m).Run()) }

func TestURLGivesAFreshDatabase(t *testing.T) {
	ctx := context.Background()
	var names []string
	for range 2 {
		u := URL(t)
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connecting to %s: %v", u, err)
		}
		var name, version string
		var tables int
		if err := conn.QueryRow(ctx, "SELECT current_database(), current_setting('server_version'), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')").Scan(&name, &version, &tables); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if tables != 0 {
			t.Errorf("database %s has %d tables; want a fresh one", name, tables)
		}
		if !strings.HasPrefix(version, "1") {
			t.Errorf("server_version = %q", version)
		}
		names = append(names, name)
	}
	if names[0] == names[1] {
		t.Errorf("two URL calls gave the same database %s", names[0])
	}
}
