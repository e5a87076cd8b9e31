package deploy

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/testenv"
)

// buildLambda cross-compiles the main package in dir (a path relative to
// the module root, as a CodeUri is) the way the functions are deployed —
// GOOS=linux GOARCH=arm64 CGO_ENABLED=0 -tags lambda.norpc — into out, and
// checks that out is a static linux/arm64 executable named bootstrap.
func buildLambda(root, dir, out string) error {
	if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
		return fmt.Errorf("CodeUri %s is not a folder (it must hold the function's package main): %v", dir, err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out, "./"+filepath.ToSlash(dir))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	f, err := elf.Open(out)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %v", out, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("%s is built for %v, want EM_AARCH64", out, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an ELF interpreter): cgo was on", out)
		}
	}
	return nil
}

// TestBuildLambdaFixture checks buildLambda itself on a minimal function
// in testdata, so that TestCodeURIBuilds can be trusted.
func TestBuildLambdaFixture(t *testing.T) {
	root := testenv.RepoRoot()
	tests := []struct {
		description string
		dir         string
		wantErr     string
	}{
		{"a lambda.Start main package builds", "internal/deploy/testdata/lambdamain", ""},
		{"a missing folder says so", "internal/deploy/testdata/nosuchtask", "is not a folder"},
		{"a folder without package main fails", "internal/deploy/testdata", "no Go files"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			err := buildLambda(root, tc.dir, filepath.Join(t.TempDir(), "bootstrap"))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("buildLambda(%s): %v", tc.dir, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("buildLambda(%s) = %v, want an error containing %q", tc.dir, err, tc.wantErr)
			}
		})
	}
}

// TestCodeURIBuilds builds every function of template.yaml from its
// CodeUri, as `sam build` (BuildMethod go1.x) does.
func TestCodeURIBuilds(t *testing.T) {
	root := testenv.RepoRoot()
	tp := repoTemplate(t)
	out := t.TempDir()
	for _, fn := range tp.ofType("AWS::Serverless::Function") {
		t.Run(fn.name, func(t *testing.T) {
			dir := text(tp.functionProp(fn, "CodeUri"))
			if err := buildLambda(root, dir, filepath.Join(out, fn.name, "bootstrap")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
