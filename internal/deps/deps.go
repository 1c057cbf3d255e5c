// Package deps pins the modules the packages under construction use; it goes away once they import them.
package deps

import (
	_ "github.com/bwmarrin/discordgo"
	_ "github.com/kelseyhightower/envconfig"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/rs/zerolog"
	_ "github.com/slack-go/slack"
	_ "go.etcd.io/bbolt"
	_ "go.uber.org/goleak"
)
