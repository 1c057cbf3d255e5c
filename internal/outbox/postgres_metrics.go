package outbox

import "github.com/prometheus/client_golang/prometheus"

// globalReporter is implemented by a store that several processes share (postgres): the gauges that
// describe the whole outbox are exported by one of them only, so that summing them over the replicas
// counts every job once.
type globalReporter interface {
	// reportsGlobal reports whether this process exports the whole outbox's gauges now.
	reportsGlobal() bool
}

// globalGauges collects its gauges unless the store says that another process reports them.
type globalGauges struct {
	store  Store
	gauges []prometheus.Collector
}

func (g globalGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range g.gauges {
		c.Describe(ch)
	}
}

func (g globalGauges) Collect(ch chan<- prometheus.Metric) {
	if r, ok := g.store.(globalReporter); ok && !r.reportsGlobal() {
		return
	}
	for _, c := range g.gauges {
		c.Collect(ch)
	}
}
