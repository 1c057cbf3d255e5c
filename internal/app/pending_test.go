package app

import (
	"cmp"
	"context"
	"slices"

	"github.com/activitybridge/activitybridge/internal/outbox"
)

// pendingJobs returns the jobs of every configured destination still in a's store, in ID order.
func pendingJobs(a *App) ([]outbox.Job, error) {
	var out []outbox.Job
	seen := map[string]bool{}
	for _, t := range a.table.Targets() {
		dest := t.String()
		if seen[dest] {
			continue
		}
		seen[dest] = true
		jobs, err := a.store.LaneJobs(context.Background(), dest, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, jobs...)
	}
	slices.SortFunc(out, func(x, y outbox.Job) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}
