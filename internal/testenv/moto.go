package testenv

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(Script("moto.sh"), "start")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/moto.sh start: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[name] = strings.Trim(value, "'")
		}
	}
	dir, u := vars["LAKE_TEST_MOTO_DIR"], vars["LAKE_TEST_MOTO_ENDPOINT"]
	if u == "" || dir == "" {
		return "", fmt.Errorf("scripts/moto.sh start printed no LAKE_TEST_MOTO_ENDPOINT/LAKE_TEST_MOTO_DIR: %q", stdout.String())
	}
	atExit(func() error {
		out, err := exec.Command(Script("moto.sh"), "stop", dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("scripts/moto.sh stop %s: %v: %s", dir, err, out)
		}
		return nil
	})
	return u, nil
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
