// Package pindeps keeps tusd (for the gateway's tus uploads, next) in go.mod
// while no package imports it yet. Delete it once the gateway uses tusd.
package pindeps

import _ "github.com/tus/tusd/v2/pkg/handler"
