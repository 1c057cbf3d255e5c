package main

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/pgtest"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// The benchmarks of several replicas on one PostgreSQL database (BENCHMARKS.md), with the real binary:
//
//	go test -run '^$' -bench 'Replicas' -benchtime 1x ./cmd/activitybridge

// startReplicas runs n bridges with env on the database at url; the benchmark's end stops them.
func startReplicas(b *testing.B, n int, env map[string]string) []*bridge {
	var out []*bridge
	for range n {
		out = append(out, startBinary(b, binPath, env))
	}
	return out
}

// BenchmarkReplicasBurstDrain: 1,000 notices (50 activities to 20 paced destinations: 10 Slack incoming
// webhooks, 10 Discord webhooks) posted through three replicas in turn. It reports the drain time, the
// slowest destination's steady rate per platform, the 429s and the duplicates (both must be 0).
func BenchmarkReplicasBurstDrain(b *testing.B) {
	const (
		perKind    = 10
		activities = 50
	)
	for range b.N {
		b.StopTimer()
		url := pgtest.URL(b)
		s, d := notifiertest.NewSlack(b), notifiertest.NewDiscord(b)
		s.EnforceRate(time.Second, 3)
		d.EnforceRate(2*time.Second, 5)
		var slackHooks, discordHooks, targets, names []string
		for j := range perKind {
			sn, dn := fmt.Sprintf("s%02d", j), fmt.Sprintf("d%02d", j)
			slackHooks = append(slackHooks, sn+"="+s.WebhookURL(sn))
			discordHooks = append(discordHooks, dn+"="+d.WebhookURL(dn))
			targets = append(targets, "slack-webhook:"+sn, "discord:"+dn)
			names = append(names, sn, dn)
		}
		env := map[string]string{
			"BRIDGE_SHARED_KEY":       sharedKey,
			"BRIDGE_SLACK_WEBHOOKS":   strings.Join(slackHooks, ","),
			"BRIDGE_DISCORD_API_URL":  d.APIURL(),
			"BRIDGE_DISCORD_WEBHOOKS": strings.Join(discordHooks, ","),
			"BRIDGE_ROUTES":           "*/* -> " + strings.Join(targets, ", "),
			"BRIDGE_STORE":            "postgres",
			"BRIDGE_DATABASE_URL":     url,
			"BRIDGE_LOG_LEVEL":        "warn",
		}
		replicas := startReplicas(b, 3, env)
		var ids []string
		bodies := make([][]byte, activities)
		for i := range activities {
			ids = append(ids, fmt.Sprintf("burst%08d", i))
			bodies[i] = variant(b, "environment.push", map[string]any{"id": ids[i]})
		}
		b.StartTimer()
		start := time.Now()
		for i, body := range bodies {
			if code, ans := replicas[i%3].post("", body, sharedKey); code != http.StatusAccepted {
				b.Fatalf("notice %d: got %d %s", i, code, ans)
			}
		}
		contents := func(name string) []string {
			if name[0] == 's' {
				var out []string
				for _, m := range s.Messages(name) {
					out = append(out, m.Text+string(m.Blocks))
				}
				return out
			}
			return discordContents(d.Messages(name))
		}
		drained := func() bool {
			for _, n := range names {
				if len(contents(n)) < activities {
					return false
				}
			}
			return true
		}
		deadline := start.Add(10 * time.Minute)
		for !drained() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		time.Sleep(2 * time.Second) // anything sent twice shows up by now

		delivered, dups := 0, 0
		for _, n := range names {
			got := activityIDs(contents(n))
			for _, id := range ids {
				switch c := got[id]; {
				case c == 0:
					b.Errorf("%s: %s missing", n, id)
				default:
					delivered++
					dups += c - 1
				}
			}
		}
		rate := func(reqs []notifiertest.Request, name string, burst int) float64 {
			var times []time.Time
			for _, r := range reqs {
				if r.Target == name && r.Status == http.StatusOK {
					times = append(times, r.Time)
				}
			}
			if len(times) <= burst {
				return math.NaN()
			}
			return float64(len(times)-burst) / times[len(times)-1].Sub(times[burst-1]).Seconds()
		}
		slowest := map[string]float64{"slack": math.Inf(1), "discord": math.Inf(1)}
		for _, n := range names {
			if n[0] == 's' {
				slowest["slack"] = min(slowest["slack"], rate(s.Requests(), n, 3))
			} else {
				slowest["discord"] = min(slowest["discord"], rate(d.Requests(), n, 5))
			}
		}
		limited := failedRequests(s.Requests(), http.StatusTooManyRequests) + failedRequests(d.Requests(), http.StatusTooManyRequests)
		b.ReportMetric(float64(delivered), "notices")
		b.ReportMetric(float64(dups), "duplicates")
		b.ReportMetric(float64(limited), "429s")
		b.ReportMetric(took.Seconds(), "drain-s")
		b.ReportMetric(slowest["slack"], "slack-msg/s")
		b.ReportMetric(slowest["discord"], "discord-msg/s")
		for _, r := range replicas {
			r.stop()
		}
	}
}

// BenchmarkReplicasTakeover: three replicas hold the lanes of four destinations whose chat is down;
// the replica holding the most lanes is killed with SIGKILL; reported is the time until another
// replica holds each of its lanes, with the default lease (15s) and a short one.
func BenchmarkReplicasTakeover(b *testing.B) {
	for _, lease := range []time.Duration{15 * time.Second, 2 * time.Second} {
		b.Run("lease="+lease.String(), func(b *testing.B) {
			var worst, sum time.Duration
			n := 0
			for range b.N {
				b.StopTimer()
				url := pgtest.URL(b)
				s, d := notifiertest.NewSlack(b), notifiertest.NewDiscord(b)
				s.SetDown(true)
				env := chatEnv(s, d, "*/* -> slack:#t1, slack:#t2, slack:#t3, slack:#t4")
				env["BRIDGE_STORE"] = "postgres"
				env["BRIDGE_DATABASE_URL"] = url
				env["BRIDGE_LEASE"] = lease.String()
				env["BRIDGE_LOG_LEVEL"] = "warn"
				replicas := startReplicas(b, 3, env)
				for i := range 3 {
					body := variant(b, "environment.push", map[string]any{"id": fmt.Sprintf("takeover%04d", i)})
					if code, ans := replicas[i].post("", body, sharedKey); code != http.StatusAccepted {
						b.Fatalf("got %d %s", code, ans)
					}
				}
				var victim *bridge
				var victimName string
				var held []string
				waitFor(b, 60*time.Second, "all four lanes held", func() bool {
					owners, _ := lanes(b, url)
					count := map[string][]string{}
					for dest, o := range owners {
						if o != "" {
							count[o] = append(count[o], dest)
						}
					}
					total := 0
					for o, ds := range count {
						total += len(ds)
						if len(ds) > len(held) {
							victimName, held = o, ds
						}
					}
					return total == 4
				})
				for _, r := range replicas {
					if r.cmd.Process.Pid == pidOf(victimName) {
						victim = r
					}
				}
				b.StartTimer()
				victim.kill()
				killed := time.Now()
				waitFor(b, 2*lease+30*time.Second, "the lanes taken over", func() bool {
					owners, _ := lanes(b, url)
					for _, dest := range held {
						if owners[dest] == "" || owners[dest] == victimName {
							return false
						}
					}
					return true
				})
				took := time.Since(killed)
				b.StopTimer()
				worst, sum, n = max(worst, took), sum+took, n+1
				for _, r := range replicas {
					if r != victim {
						r.stop()
					}
				}
			}
			b.ReportMetric(sum.Seconds()/float64(n), "takeover-s")
			b.ReportMetric(worst.Seconds(), "worst-takeover-s")
			b.ReportMetric(lease.Seconds(), "lease-s")
		})
	}
}
