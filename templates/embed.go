// Package templates holds the default message templates of activitybridge, embedded in the binary.
// Each template set is a folder (default, compact); each file holds only {{define}} blocks. See
// README.md in this folder for where files go, the data templates see and the functions they can
// call; package render loads, layers and checks them.
package templates

import "embed"

// FS holds the default template sets: <set>/<name>.tmpl, where name is an activity type
// ("environment.push"), a type prefix ("environment.variable") or a shared file ("_common").
//
//go:embed */*.tmpl
var FS embed.FS
