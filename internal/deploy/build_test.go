package deploy

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/testenv"
)

// The Lambda builds are checked the way `sam build` runs them for
// BuildMethod: makefile (aws-lambda-builders' CustomMakeWorkflow, which
// sam build uses for every function of that method and never merges with
// another function's build, whatever their CodeUri):
//
//   - the Makefile is the file named Makefile in the function's CodeUri;
//   - by default the CodeUri folder is first copied to a scratch folder,
//     leaving out .aws-sam and .git, and make runs there; with
//     --build-in-source it runs in the CodeUri folder itself;
//   - the command is `make --makefile <CodeUri>/Makefile build-<LogicalId>`
//     with the caller's environment plus ARTIFACTS_DIR, the folder whose
//     contents become the function's zip.
//
// SAM's cache (sam build --cached, sam sync) keys each function on the
// content of its CodeUri: with CodeUri "." a change anywhere in the module
// rebuilds every function.

// samExcluded are the folders SAM leaves out of the scratch copy.
var samExcluded = []string{".aws-sam", ".git"}

// makeBuild runs one function's build target as sam build does, in dir
// (the CodeUri folder or a scratch copy of it), with makefile the CodeUri's
// Makefile, and returns the bootstrap it left in a fresh ARTIFACTS_DIR.
func makeBuild(ctx context.Context, dir, makefile, logicalID, artifacts string) (string, error) {
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return "", err
	}
	target := "build-" + logicalID
	cmd := exec.CommandContext(ctx, "make", "--makefile", makefile, target)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+artifacts)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v); the first arm64 build compiles every dependency: give go test a longer -timeout, or run make tasks first to warm the cache", ctx.Err(), err)
		}
		return "", fmt.Errorf("ARTIFACTS_DIR=%s make --makefile %s %s (in %s): %w\n%s", artifacts, makefile, target, dir, err, out)
	}
	bin := filepath.Join(artifacts, "bootstrap")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("make %s left no bootstrap in ARTIFACTS_DIR: %v", target, err)
	}
	return bin, nil
}

// scratchCopy copies src to a new folder as SAM's CopySourceAction does,
// leaving out samExcluded, and returns the copy.
func scratchCopy(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "scratch")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && slices.Contains(samExcluded, d.Name()) {
			return filepath.SkipDir
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case !d.Type().IsRegular():
			return nil
		}
		return copyFile(p, to)
	})
	if err != nil {
		t.Fatalf("copy %s to a scratch folder: %v", src, err)
	}
	return dst
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkBootstrap checks that file is what the provided.al2023 arm64
// runtime can start and what the deployment wants to ship: a static
// linux/arm64 ELF executable, stripped of its symbol and debug tables,
// built from the main package pkg with cgo off, the lambda.norpc tag and
// -trimpath, and without version-control stamping (which would change
// every binary on every commit).
func checkBootstrap(file, pkg string) []string {
	f, err := elf.Open(file)
	if err != nil {
		return []string{fmt.Sprintf("%s is not an ELF executable: %v", file, err)}
	}
	defer f.Close()
	var problems []string
	if f.Machine != elf.EM_AARCH64 {
		problems = append(problems, fmt.Sprintf("built for %v, want EM_AARCH64", f.Machine))
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			problems = append(problems, "dynamically linked (it has an ELF interpreter): cgo was on")
		}
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			problems = append(problems, fmt.Sprintf("not stripped: it has a %s section (want -ldflags='-s -w')", s.Name))
		}
	}
	info, err := buildinfo.ReadFile(file)
	if err != nil {
		return append(problems, fmt.Sprintf("no Go build information: %v", err))
	}
	if info.Path != pkg {
		problems = append(problems, fmt.Sprintf("main package %s, want %s", info.Path, pkg))
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
		if strings.HasPrefix(s.Key, "vcs") {
			problems = append(problems, fmt.Sprintf("stamped with %s=%s (want -buildvcs=false)", s.Key, s.Value))
		}
	}
	for key, want := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true", "-tags": "lambda.norpc"} {
		if got := settings[key]; got != want {
			problems = append(problems, fmt.Sprintf("build setting %s=%q, want %q", key, got, want))
		}
	}
	return problems
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

// TestCheckBootstrap checks checkBootstrap on the smallest Lambda function
// (testdata/lambdamain) built with and without the deployment's flags, so
// that TestMakefileBuilds can be trusted.
func TestCheckBootstrap(t *testing.T) {
	const pkg = "github.com/medallionlake/lake/internal/deploy/testdata/lambdamain"
	tests := []struct {
		description string
		flags       []string
		want        []string
	}{
		{"the deployment's flags pass", []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w"}, nil},
		{"symbols and debug tables are caught", []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false"}, []string{"not stripped"}},
		{"a missing tag and -trimpath are caught", []string{"-buildvcs=false", "-ldflags=-s -w"}, []string{"-trimpath", "-tags"}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.CommandContext(buildContext(t), "go", append(append([]string{"build"}, tc.flags...), "-o", bin, "./internal/deploy/testdata/lambdamain")...)
			cmd.Dir = testenv.RepoRoot()
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
			}
			got := strings.Join(checkBootstrap(bin, pkg), "\n")
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("problems:\n%s\nwant none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems:\n%s\nwant one naming %q", got, w)
				}
			}
		})
	}
	t.Run("a non-ELF file is refused", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "bootstrap")
		if err := os.WriteFile(file, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := checkBootstrap(file, pkg); len(got) != 1 || !strings.Contains(got[0], "not an ELF") {
			t.Fatalf("checkBootstrap(shell script) = %q, want one problem saying it is not an ELF", got)
		}
	})
}

// TestMakefileBuilds builds every function of template.yaml as sam build
// does, twice: in the source folder (sam build --build-in-source) and in a
// scratch copy of it at another path (sam build). Each bootstrap must be the
// function's own task, fit to ship (checkBootstrap), and the two builds
// byte-identical: the build is reproducible, so --cached and sam sync
// deploy exactly what a clean build would.
func TestMakefileBuilds(t *testing.T) {
	tp := repoTemplate(t)
	root := testenv.RepoRoot()
	fns := tp.ofType("AWS::Serverless::Function")
	codeURIs := map[string]bool{}
	for _, fn := range fns {
		codeURIs[text(tp.functionProp(fn, "CodeUri"))] = true
	}
	if len(codeURIs) != 1 {
		t.Fatalf("CodeUris %v: want one for every function (the module root), so the cache covers the whole module", codeURIs)
	}
	src := filepath.Join(root, text(tp.functionProp(fns[0], "CodeUri")))
	makefile := filepath.Join(src, "Makefile")
	scratch := scratchCopy(t, src)
	ctx := buildContext(t)
	out := t.TempDir()
	for _, fn := range fns {
		t.Run(fn.name, func(t *testing.T) {
			if got := text(path(fn.node, "Metadata", "BuildMethod")); got != "makefile" {
				t.Fatalf("Metadata.BuildMethod = %q, want makefile", got)
			}
			inSource, err := makeBuild(ctx, src, makefile, fn.name, filepath.Join(out, "in-source", fn.name))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkBootstrap(inSource, "github.com/medallionlake/lake/tasks/"+functionName(fn)) {
				t.Error(p)
			}
			copied, err := makeBuild(ctx, scratch, makefile, fn.name, filepath.Join(out, "scratch", fn.name))
			if err != nil {
				t.Fatal(err)
			}
			a, err := os.ReadFile(inSource)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(copied)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("the build in the source folder (%d bytes) and in a scratch copy (%d bytes) differ: the build is not reproducible", len(a), len(b))
			}
			t.Logf("bootstrap: %.1f MB", float64(len(a))/1e6)
		})
	}
}

// TestMakefileNeedsArtifactsDir checks that a build target run by hand
// without ARTIFACTS_DIR says what is missing instead of writing
// /bootstrap.
func TestMakefileNeedsArtifactsDir(t *testing.T) {
	cmd := exec.Command("make", "--makefile", filepath.Join(testenv.RepoRoot(), "Makefile"), "build-PlanFunction")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "ARTIFACTS_DIR=") })
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ARTIFACTS_DIR is not set") {
		t.Fatalf("make build-PlanFunction without ARTIFACTS_DIR: %v\n%s\nwant a failure naming ARTIFACTS_DIR", err, out)
	}
}
