package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/activitybridge/activitybridge/internal/outbox"
)

func deadlettersCmd(args []string, stdout io.Writer) error {
	fs := newFlags("deadletters", `activitybridge deadletters [--json] [--admin ADDR] list|replay [ID]
list the dead letters of the running service, or try one (ID) or all of them again`)
	admin := fs.String("admin", envOr("BRIDGE_ADMIN_LISTEN", "127.0.0.1:8081"), "admin address of the running service (from $BRIDGE_ADMIN_LISTEN)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: say list or replay [ID]", errUsage)
	}
	base := "http://" + strings.TrimPrefix(*admin, "http://")
	if strings.HasPrefix(base, "http://:") {
		base = "http://127.0.0.1" + strings.TrimPrefix(base, "http://")
	}
	// The admin listener answers only a loopback Host (or the address the connection came in on).
	base = strings.NewReplacer("http://0.0.0.0:", "http://127.0.0.1:", "http://[::]:", "http://[::1]:").Replace(base)
	hc := &http.Client{Timeout: 10 * time.Second}
	switch fs.Arg(0) {
	case "list":
		if fs.NArg() > 1 {
			return fmt.Errorf("%w: list takes no ID", errUsage)
		}
		resp, err := hc.Get(base + "/deadletters")
		if err != nil {
			return fmt.Errorf("cannot reach the service's admin listener at %s (is it running? is BRIDGE_ADMIN_LISTEN the same?): %w", *admin, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return adminError(resp)
		}
		var dead []outbox.DeadLetter
		if err := json.NewDecoder(resp.Body).Decode(&dead); err != nil {
			return fmt.Errorf("reading the dead letter list: %w", err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(dead)
		}
		if len(dead) == 0 {
			fmt.Fprintln(stdout, "no dead letters")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDEAD SINCE\tDESTINATION\tACTIVITY\tSTATE\tREASON")
		for _, d := range dead {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.Job.ID, d.DeadAt.UTC().Format(time.RFC3339), d.Job.Dest, d.Job.Activity, d.Job.State, d.Reason)
		}
		return tw.Flush()
	case "replay":
		path := "/deadletters/replay"
		if fs.NArg() == 2 {
			path = "/deadletters/" + fs.Arg(1) + "/replay"
		} else if fs.NArg() > 2 {
			return fmt.Errorf("%w: replay takes at most one ID", errUsage)
		}
		resp, err := hc.Post(base+path, "application/json", nil)
		if err != nil {
			return fmt.Errorf("cannot reach the service's admin listener at %s (is it running?): %w", *admin, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return adminError(resp)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		fmt.Fprintln(stdout, strings.TrimSpace(string(b)))
		return nil
	default:
		return fmt.Errorf("%w: unknown action %q; use list or replay [ID]", errUsage, fs.Arg(0))
	}
}

func adminError(resp *http.Response) error {
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return fmt.Errorf("service answered %s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("service answered %s", resp.Status)
}
