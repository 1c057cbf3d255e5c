# syntax=docker/dockerfile:1
#
# activitybridge container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t activitybridge .
#   docker run --rm -p 8080:8080 -e BRIDGE_ROUTES='*/* -> console' activitybridge
#
# The build stage runs on the builder's own platform and cross-compiles, so
# `docker buildx build --platform linux/amd64,linux/arm64 .` needs no emulation.
# The binary is static (CGO_ENABLED=0) and carries its templates (embed), so the
# final image holds that one file and an empty /data owned by the nonroot user.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .

ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/activitybridge ./cmd/activitybridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="activitybridge" \
      org.opencontainers.image.description="Posts Platform.sh / Upsun activity webhooks as deploy notices to Slack and Discord" \
      org.opencontainers.image.source="https://github.com/activitybridge/activitybridge" \
      org.opencontainers.image.url="https://github.com/activitybridge/activitybridge" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /out/activitybridge /activitybridge
# The bolt file lives here; mount a volume over it to keep notices across restarts.
COPY --from=build --chown=65532:65532 /out/data /data

ENV BRIDGE_DATA_DIR=/data
USER 65532:65532
EXPOSE 8080

ENTRYPOINT ["/activitybridge"]
CMD ["serve"]
