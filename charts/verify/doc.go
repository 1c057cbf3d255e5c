// Package verify checks the shipping artefacts of activitybridge without a
// cluster or a Docker daemon: it lints and renders the Helm chart in
// charts/activitybridge with the Helm SDK, decodes every rendered manifest
// strictly into the Kubernetes API types, and checks the Dockerfile and
// .dockerignore at the repository root structurally.
//
// It is a separate Go module so that the service's go.mod does not carry the
// Helm and Kubernetes dependency tree. Run it with:
//
//	cd charts/verify && go test ./...
package verify
