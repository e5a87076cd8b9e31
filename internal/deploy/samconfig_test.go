package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/medallionlake/lake/internal/testenv"
)

// samconfig is the part of samconfig.toml the checks read.
type samconfig struct {
	Version float64
	Default struct {
		Build struct {
			Parameters struct {
				BuildInSource bool `toml:"build_in_source"`
				Cached        bool
			}
		}
		Deploy struct {
			Parameters struct {
				Capabilities       string
				ResolveS3          bool   `toml:"resolve_s3"`
				ConfirmChangeset   bool   `toml:"confirm_changeset"`
				ParameterOverrides string `toml:"parameter_overrides"`
			}
		}
	}
}

// overrideRE matches the first Name="value" of parameter_overrides.
var overrideRE = regexp.MustCompile(`^\s*([A-Za-z0-9]+)="((?:[^"\\]|\\.)*)"`)

// TestSamConfig checks samconfig.toml: a SAM CLI config (version 0.1) that
// builds in the source folder with the cache, deploys with the capability
// the stack's roles need and a managed artifact bucket, asks before
// executing a change set, and gives defaults only for parameters the
// template has, with values it accepts, none of them a secret.
func TestSamConfig(t *testing.T) {
	file := filepath.Join(testenv.RepoRoot(), "samconfig.toml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg samconfig
	if _, err := toml.Decode(string(raw), &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	tp := repoTemplate(t)
	named := false
	for _, r := range tp.ofType("AWS::IAM::Role") {
		named = named || path(r.node, "Properties", "RoleName") != nil
	}
	wantCap := "CAPABILITY_IAM"
	if named {
		wantCap = "CAPABILITY_NAMED_IAM"
	}
	b, d := cfg.Default.Build.Parameters, cfg.Default.Deploy.Parameters
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"version", cfg.Version, 0.1},
		{"build_in_source", b.BuildInSource, true},
		{"cached", b.Cached, true},
		{"capabilities", d.Capabilities, wantCap},
		{"resolve_s3", d.ResolveS3, true},
		{"confirm_changeset", d.ConfirmChangeset, true},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	for rest := d.ParameterOverrides; strings.TrimSpace(rest) != ""; {
		m := overrideRE.FindStringSubmatch(rest)
		if m == nil {
			t.Errorf("parameter_overrides: %q does not start with Name=\"value\"", rest)
			break
		}
		rest = rest[len(m[0]):]
		name, value := m[1], m[2]
		p := path(tp.root, "Parameters", name)
		if p == nil {
			t.Errorf("parameter_overrides: %s is not a parameter of the template", name)
			continue
		}
		if secretName.MatchString(name) {
			t.Errorf("parameter_overrides: %s is the secret's; sam deploy --guided asks for it", name)
		}
		if allowed := values(get(p, "AllowedValues")); len(allowed) > 0 && !slices.Contains(allowed, value) {
			t.Errorf("parameter_overrides: %s=%q is not one of %v", name, value, allowed)
		}
		if pat := text(get(p, "AllowedPattern")); pat != "" && !regexp.MustCompile(pat).MatchString(value) {
			t.Errorf("parameter_overrides: %s=%q does not match %s", name, value, pat)
		}
		if text(get(p, "Type")) == "Number" {
			n, err := strconv.ParseFloat(value, 64)
			lo, _ := strconv.ParseFloat(text(get(p, "MinValue")), 64)
			hi, hiErr := strconv.ParseFloat(text(get(p, "MaxValue")), 64)
			if err != nil || (get(p, "MinValue") != nil && n < lo) || (hiErr == nil && n > hi) {
				t.Errorf("parameter_overrides: %s=%q is not a number in the parameter's range", name, value)
			}
		}
	}
	for _, re := range secretValue {
		if re.Match(raw) {
			t.Errorf("%s holds something that looks like a secret (%s)", file, re)
		}
	}
}
