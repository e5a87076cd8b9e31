package deploy

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/testenv"
)

// buildLambdas cross-compiles the main packages in dirs (paths relative to
// the module root, as CodeUris are) the way the functions are deployed —
// GOOS=linux GOARCH=arm64 CGO_ENABLED=0 -tags lambda.norpc — with one go
// build, so that the packages they share compile once and in parallel. It
// returns the path of each binary, by dir, in out.
func buildLambdas(ctx context.Context, root string, dirs []string, out string) (map[string]string, error) {
	args := []string{"build", "-trimpath", "-tags", "lambda.norpc", "-o", out + string(filepath.Separator)}
	bins := map[string]string{}
	for _, dir := range dirs {
		if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("CodeUri %s is not a folder (it must hold the function's package main): %v", dir, err)
		}
		args = append(args, "./"+filepath.ToSlash(dir))
		bins[dir] = filepath.Join(out, filepath.Base(dir))
	}
	if len(bins) != len(dirs) {
		return nil, fmt.Errorf("CodeUris %v are not distinct", dirs)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v); the first arm64 build compiles every dependency: give go test a longer -timeout, or build the tasks first to warm the cache", ctx.Err(), err)
		}
		return nil, fmt.Errorf("GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return bins, nil
}

// checkBootstrap checks that file is what the provided.al2023 arm64
// runtime can start: a static linux/arm64 ELF executable.
func checkBootstrap(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %v", file, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("%s is built for %v, want EM_AARCH64", file, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an ELF interpreter): cgo was on", file)
		}
	}
	return nil
}

// buildContext is a context that ends a minute before the test's deadline,
// so that a slow build fails with a message instead of the test binary
// panicking.
func buildContext(t *testing.T) context.Context {
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Minute))
		t.Cleanup(cancel)
	}
	return ctx
}

// TestBuildLambdasFixture checks buildLambdas and checkBootstrap on a
// minimal function in testdata, so that TestCodeURIBuilds can be trusted.
func TestBuildLambdasFixture(t *testing.T) {
	root := testenv.RepoRoot()
	tests := []struct {
		description string
		dirs        []string
		wantErr     string
	}{
		{"a lambda.Start main package builds", []string{"internal/deploy/testdata/lambdamain"}, ""},
		{"a missing folder says so", []string{"internal/deploy/testdata/lambdamain", "internal/deploy/testdata/nosuchtask"}, "is not a folder"},
		{"a folder without package main fails", []string{"internal/deploy/testdata"}, "no Go files"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			bins, err := buildLambdas(buildContext(t), root, tc.dirs, t.TempDir())
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("buildLambdas(%v) = %v, want an error containing %q", tc.dirs, err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("buildLambdas(%v): %v", tc.dirs, err)
			}
			for _, dir := range tc.dirs {
				if err := checkBootstrap(bins[dir]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	t.Run("a non-ELF file is refused", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "bootstrap")
		if err := os.WriteFile(file, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := checkBootstrap(file); err == nil || !strings.Contains(err.Error(), "not an ELF") {
			t.Fatalf("checkBootstrap(shell script) = %v, want an error", err)
		}
	})
}

// TestCodeURIBuilds builds every function of template.yaml from its
// CodeUri, as `sam build` (BuildMethod go1.x) does, and checks each binary.
func TestCodeURIBuilds(t *testing.T) {
	tp := repoTemplate(t)
	var dirs []string
	fns := tp.ofType("AWS::Serverless::Function")
	for _, fn := range fns {
		dirs = append(dirs, text(tp.functionProp(fn, "CodeUri")))
	}
	bins, err := buildLambdas(buildContext(t), testenv.RepoRoot(), dirs, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, fn := range fns {
		t.Run(fn.name, func(t *testing.T) {
			if err := checkBootstrap(bins[dirs[i]]); err != nil {
				t.Error(err)
			}
		})
	}
}
