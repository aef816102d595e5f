// Package pindeps keeps modules that work in progress is about to use in
// go.mod while no package imports them yet. Delete it once they are used.
package pindeps

import (
	_ "github.com/coder/websocket"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/tus/tusd/v2/pkg/handler"
	_ "golang.org/x/image/draw"
)
