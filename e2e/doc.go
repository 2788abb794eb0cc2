// Package e2e holds end-to-end tests: they build the real coffer binary, start it on loopback
// and drive it with real clients (crane, oras, regctl, skopeo, docker) and with kill -9.
package e2e
