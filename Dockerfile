# syntax=docker/dockerfile:1
# Kinbridge's image, for those who build with a container daemon:
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t kinbridge .
# `make image` builds the same image without a daemon (deploy/image.go); the
# user, entrypoint, ports and environment here must match deploy/image.go,
# which deploy/dockerfile_test.go checks.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
# Static (the SQLite driver is pure Go), so it runs on an empty base.
RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-X main.version=${VERSION}" -o /out/kinbridge ./cmd/kinbridge \
 && mkdir -p /out/data

# distroless/static: CA certificates, /etc/passwd with nonroot (65532), /tmp;
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
COPY --from=build /out/kinbridge /kinbridge
COPY --from=build --chown=65532:65532 /out/data /data
LABEL org.opencontainers.image.title="kinbridge" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/kinbridge/kinbridge"
# Every listener on all interfaces: a container's loopback is reachable
# from nowhere.
ENV KINBRIDGE_DATA_DIR=/data \
    KINBRIDGE_GATEWAY_LISTEN=0.0.0.0:8080 \
    KINBRIDGE_PROGRESS_LISTEN=0.0.0.0:9101 \
    KINBRIDGE_MEDIA_LISTEN=0.0.0.0:9102 \
    KINBRIDGE_NOTIFICATION_LISTEN=0.0.0.0:9103 \
    KINBRIDGE_METRICS_LISTEN=0.0.0.0:9464
EXPOSE 8080/tcp 9101/tcp 9102/tcp 9103/tcp 9464/tcp
VOLUME ["/data"]
WORKDIR /data
USER 65532:65532
ENTRYPOINT ["/kinbridge"]
CMD ["serve", "all"]
