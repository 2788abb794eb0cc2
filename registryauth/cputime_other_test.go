//go:build !unix

package registryauth_test

func processCPU() int64 { return 0 }
