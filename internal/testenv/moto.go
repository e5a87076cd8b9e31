package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
)

var (
	motoOnce     sync.Once
	motoEndpoint string
	motoErr      error
)

// MotoEndpoint returns the URL of the moto_server that tests share:
// LAKE_TEST_MOTO_ENDPOINT when set, else a server started once per test
// process with scripts/moto.sh (and stopped by Main).
func MotoEndpoint() (string, error) {
	motoOnce.Do(func() {
		if u := os.Getenv("LAKE_TEST_MOTO_ENDPOINT"); u != "" {
			motoEndpoint = u
			return
		}
		motoEndpoint, motoErr = startMoto()
	})
	return motoEndpoint, motoErr
}

func startMoto() (string, error) {
	vars, err := startService("moto.sh", "LAKE_TEST_MOTO_DIR", "LAKE_TEST_MOTO_ENDPOINT")
	if err != nil {
		return "", err
	}
	return vars["LAKE_TEST_MOTO_ENDPOINT"], nil
}

// Moto returns the endpoint URL of the shared moto_server, calling
// Unavailable when it cannot be started. Clients use any access key and
// secret; moto_server keeps one set of state per region, so a test that
// needs an empty account passes a region of its own from MotoRegion.
func Moto(t testing.TB) string {
	t.Helper()
	u, err := MotoEndpoint()
	if err != nil {
		Unavailable(t, "moto_server", err)
	}
	return u
}

// MotoRegion returns a region name no other test uses, which moto_server
// (started by scripts/moto.sh with MOTO_ALLOW_NONEXISTENT_REGION) treats
// as a fresh, empty region.
func MotoRegion() string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "test-" + hex.EncodeToString(b[:]) + "-1"
}
