package deploy

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/medallionlake/lake/internal/testenv"
	"gopkg.in/yaml.v3"
)

// placeholder matches a DefinitionSubstitutions placeholder: ${Name}.
var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// placeholders returns the distinct placeholder names in a definition,
// sorted.
func placeholders(definition []byte) []string {
	var names []string
	for _, m := range placeholder.FindAllSubmatch(definition, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// substitutionProblems compares a state machine's DefinitionSubstitutions
// with the placeholders of its definition: a key without a placeholder and
// a placeholder without a key are both problems.
func substitutionProblems(keys, used []string) []string {
	var problems []string
	for _, k := range keys {
		if !slices.Contains(used, k) {
			problems = append(problems, "DefinitionSubstitutions."+k+" is not used by the definition")
		}
	}
	for _, u := range used {
		if !slices.Contains(keys, u) {
			problems = append(problems, "${"+u+"} in the definition has no DefinitionSubstitutions entry")
		}
	}
	return problems
}

func TestSubstitutionProblems(t *testing.T) {
	tests := []struct {
		description string
		definition  string
		keys        []string
		want        []string
	}{
		{"exact match", `{"Resource":"${A}","Parameters":{"B":"${B}","C":"${A}"}}`, []string{"A", "B"}, nil},
		{"unused key", `{"Resource":"${A}"}`, []string{"A", "B"}, []string{"DefinitionSubstitutions.B is not used by the definition"}},
		{"unknown placeholder", `{"Resource":"${A}","X":"${Typo}"}`, []string{"A"}, []string{"${Typo} in the definition has no DefinitionSubstitutions entry"}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			got := substitutionProblems(tc.keys, placeholders([]byte(tc.definition)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDefinitionSubstitutions checks every state machine of template.yaml
// against its DefinitionUri file.
func TestDefinitionSubstitutions(t *testing.T) {
	tp := repoTemplate(t)
	sms := tp.ofType("AWS::Serverless::StateMachine")
	if len(sms) == 0 {
		t.Fatal("template.yaml has no AWS::Serverless::StateMachine")
	}
	for _, sm := range sms {
		t.Run(sm.name, func(t *testing.T) {
			uri := text(path(sm.node, "Properties", "DefinitionUri"))
			if uri == "" {
				t.Fatal("DefinitionUri is missing or not a local file")
			}
			definition, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), uri))
			if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
				t.Skipf("%s does not exist yet; this check becomes a failure with CI=true", uri)
			}
			if err != nil {
				t.Fatalf("read DefinitionUri: %v", err)
			}
			if !json.Valid(definition) {
				t.Fatalf("%s is not valid JSON", uri)
			}
			var keys []string
			subs := path(sm.node, "Properties", "DefinitionSubstitutions")
			pairs(subs, func(k string, v *yaml.Node) {
				keys = append(keys, k)
				if intrinsicName(v) == "Fn::GetAtt" && tp.resource(refTarget(v)) == nil {
					t.Errorf("DefinitionSubstitutions.%s refers to %q, which is not in the template", k, refTarget(v))
				}
			})
			for _, p := range substitutionProblems(keys, placeholders(definition)) {
				t.Error(p)
			}
		})
	}
}
