// Package deploy holds the offline checks of the AWS deployment: the SAM
// template (template.yaml), the state machine's DefinitionSubstitutions,
// the Lambda builds and the sample events in events/ against their JSON
// Schemas in schemas/events/. It has tests only; nothing imports it.
//
// The checks cover what cfn-lint (scripts/check-template.sh) does not:
// least privilege, the TLS deny, secrets, runtime and architecture, and
// that every function's CodeUri builds for Lambda.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/testenv"
	"gopkg.in/yaml.v3"
)

// template is a parsed CloudFormation/SAM template. CloudFormation's
// short-form tags (!Ref, !Sub, !GetAtt, ...) stay on the yaml.Node as
// their Tag; intrinsic normalizes them and the long forms alike.
type template struct {
	file string
	root *yaml.Node // the top-level mapping
}

// resource is one entry of the template's Resources.
type resource struct {
	name string
	typ  string
	node *yaml.Node // the resource's mapping (Type, Properties, ...)
}

func loadTemplate(t *testing.T, file string) *template {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: top level is not a mapping", file)
	}
	return &template{file: file, root: doc.Content[0]}
}

// repoTemplate loads the repository's template.yaml.
func repoTemplate(t *testing.T) *template {
	t.Helper()
	return loadTemplate(t, filepath.Join(testenv.RepoRoot(), "template.yaml"))
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// path follows keys through nested mappings.
func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = get(n, k)
	}
	return n
}

// pairs calls f for each key and value of mapping n, in order.
func pairs(n *yaml.Node, f func(key string, val *yaml.Node)) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i].Value, n.Content[i+1])
	}
}

// list returns n's items when n is a sequence, and n alone otherwise.
func list(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode && intrinsicName(n) == "":
		return n.Content
	default:
		return []*yaml.Node{n}
	}
}

// literal reports whether n is a plain string/number/bool scalar (no
// intrinsic function).
func literal(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "" || strings.HasPrefix(n.Tag, "!!"))
}

// intrinsicName returns the long name of the intrinsic function that n is
// ("Ref", "Fn::Sub", "Fn::GetAtt", ...), or "" if n is not one.
func intrinsicName(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		if n.Tag == "!Ref" || n.Tag == "!Condition" {
			return n.Tag[1:]
		}
		return "Fn::" + n.Tag[1:]
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k
		}
	}
	return ""
}

// intrinsicArg returns the argument of intrinsic n (the tagged node itself
// for the short form).
func intrinsicArg(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && intrinsicName(n) == n.Content[0].Value {
		return n.Content[1]
	}
	arg := *n
	arg.Tag = ""
	return &arg
}

// refTarget returns the logical id or parameter that n refers to with Ref
// or Fn::GetAtt (the part before the dot), or "".
func refTarget(n *yaml.Node) string {
	switch intrinsicName(n) {
	case "Ref":
		return intrinsicArg(n).Value
	case "Fn::GetAtt":
		arg := intrinsicArg(n)
		if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
			return arg.Content[0].Value
		}
		name, _, _ := strings.Cut(arg.Value, ".")
		return name
	}
	return ""
}

// text renders a string-valued node for inspection: a literal as is, a
// Fn::Sub as its template string, and a Ref or GetAtt as ${Target}. It
// returns "" for other intrinsics (Fn::If, Fn::Select, ...).
func text(n *yaml.Node) string {
	if literal(n) {
		return n.Value
	}
	switch intrinsicName(n) {
	case "Fn::Sub":
		arg := intrinsicArg(n)
		if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
			return arg.Content[0].Value
		}
		return arg.Value
	case "Ref", "Fn::GetAtt":
		return "${" + refTarget(n) + "}"
	}
	return ""
}

func (tp *template) resources() []resource {
	var out []resource
	pairs(get(tp.root, "Resources"), func(name string, n *yaml.Node) {
		out = append(out, resource{name: name, typ: get(n, "Type").Value, node: n})
	})
	return out
}

func (tp *template) resource(name string) *resource {
	for _, r := range tp.resources() {
		if r.name == name {
			return &r
		}
	}
	return nil
}

func (tp *template) ofType(typ string) []resource {
	var out []resource
	for _, r := range tp.resources() {
		if r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

// functionProp is a function's property as SAM applies it: the function's
// own, else the one from Globals.Function.
func (tp *template) functionProp(fn resource, key string) *yaml.Node {
	if v := path(fn.node, "Properties", key); v != nil {
		return v
	}
	return path(tp.root, "Globals", "Function", key)
}

// walk calls f on n and every node below it, with the path of mapping
// keys that leads there.
func walk(n *yaml.Node, at []string, f func(n *yaml.Node, at []string)) {
	if n == nil {
		return
	}
	f(n, at)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], append(slices.Clip(at), n.Content[i].Value), f)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, at, f)
		}
	}
}

// statement is one IAM policy statement found anywhere in a resource.
type statement struct {
	resource string
	sid      string
	node     *yaml.Node
}

func (s statement) id() string { return s.resource + "/" + s.sid }

// statements returns every policy statement in the template: each mapping
// with an Effect and an Action or NotAction, wherever it is (SAM Policies,
// IAM roles and managed policies, bucket, queue and key policies).
func (tp *template) statements() []statement {
	var out []statement
	for _, r := range tp.resources() {
		walk(r.node, nil, func(n *yaml.Node, _ []string) {
			if n.Kind != yaml.MappingNode || get(n, "Effect") == nil {
				return
			}
			if get(n, "Action") == nil && get(n, "NotAction") == nil {
				return
			}
			sid := "(no Sid)"
			if s := get(n, "Sid"); s != nil {
				sid = s.Value
			}
			out = append(out, statement{resource: r.name, sid: sid, node: n})
		})
	}
	return out
}

func values(n *yaml.Node) []string {
	var out []string
	for _, v := range list(n) {
		out = append(out, text(v))
	}
	return out
}

// wildcardExceptions are the Allow statements that may use Resource "*"
// or a service-wide action, because AWS accepts nothing narrower there.
var wildcardExceptions = map[string]string{
	"LakeKey/AccountAdministersThroughIam": `in a key policy, Resource "*" is the key itself; kms:* for the account root delegates to IAM`,
	"PipelineRole/LogsDelivery":            `CloudWatch Logs vended-log delivery actions support only Resource "*"`,
	"PipelineRole/XRayWrite":               `X-Ray trace and sampling actions support only Resource "*"`,
	"MaintenanceRole/LogsDelivery":         `CloudWatch Logs vended-log delivery actions support only Resource "*"`,
	"MaintenanceRole/XRayWrite":            `X-Ray trace and sampling actions support only Resource "*"`,
}

var (
	// s3ARN matches the forms an S3 resource takes in this template:
	// ${Bucket.Arn}, ${Bucket} after arn:...:s3:::, or a literal ARN.
	s3ARN   = regexp.MustCompile(`^(?:\$\{([A-Za-z0-9]+)(?:\.Arn)?\}|arn:(?:aws[a-z-]*|\$\{AWS::Partition\}):s3:::([^/]+))(/.*)?$`)
	glueARN = regexp.MustCompile(`^arn:(?:aws[a-z-]*|\$\{AWS::Partition\}):glue:(?:\$\{[^}]+\}|[^:]+):(?:\$\{[^}]+\}|[^:]+):(.*)$`)
	kmsARN  = regexp.MustCompile(`:kms:`)
)

// wildcardProblems checks every Allow statement: no service-wide or "*"
// actions; no "*" resource except wildcardExceptions; S3 object resources
// confined to a named prefix; Glue resources confined to one database.
func wildcardProblems(tp *template) []string {
	types := map[string]string{}
	for _, r := range tp.resources() {
		types[r.name] = r.typ
	}
	var problems []string
	for _, st := range tp.statements() {
		if text(get(st.node, "Effect")) != "Allow" {
			continue
		}
		_, excepted := wildcardExceptions[st.id()]
		if get(st.node, "NotAction") != nil || get(st.node, "NotResource") != nil {
			problems = append(problems, fmt.Sprintf("%s: NotAction/NotResource in an Allow grants everything else", st.id()))
		}
		for _, a := range values(get(st.node, "Action")) {
			if (a == "*" || strings.HasSuffix(a, ":*")) && !excepted {
				problems = append(problems, fmt.Sprintf("%s: wildcard action %q", st.id(), a))
			}
		}
		if get(st.node, "Principal") != nil {
			// A resource policy (bucket, queue, key): its Resource is the
			// resource it is attached to.
			for _, res := range values(get(st.node, "Resource")) {
				if res == "*" && !excepted {
					problems = append(problems, fmt.Sprintf(`%s: Resource "*"`, st.id()))
				}
			}
			continue
		}
		resources := list(get(st.node, "Resource"))
		if len(resources) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no Resource", st.id()))
		}
		for _, rn := range resources {
			if name := intrinsicName(rn); name == "Ref" || name == "Fn::GetAtt" {
				continue // one named resource or a parameter holding one ARN
			}
			res := text(rn)
			if res == "" {
				problems = append(problems, fmt.Sprintf("%s: Resource is an expression (%s) the check cannot read", st.id(), intrinsicName(rn)))
				continue
			}
			if p := resourceProblem(res, types); p != "" && !(res == "*" && excepted) {
				problems = append(problems, fmt.Sprintf("%s: %s", st.id(), p))
			}
		}
	}
	return problems
}

// resourceProblem says what is too wide about one Resource string, or "".
func resourceProblem(res string, types map[string]string) string {
	if res == "*" {
		return `Resource "*"`
	}
	if m := s3ARN.FindStringSubmatch(res); m != nil && (m[2] != "" || types[m[1]] == "AWS::S3::Bucket") {
		bucket, objects := m[1]+m[2], strings.TrimPrefix(m[3], "/")
		if strings.Contains(bucket, "*") {
			return fmt.Sprintf("S3 resource %q names no single bucket", res)
		}
		if m[3] == "" {
			return "" // the bucket itself (ListBucket, GetBucketLocation)
		}
		first, _, _ := strings.Cut(objects, "/")
		if first == "" || strings.ContainsAny(first, "*?") || strings.Contains(first, "${") || !strings.Contains(objects, "/") {
			return fmt.Sprintf("S3 resource %q is not confined to a named prefix (prefix/...)", res)
		}
		return ""
	}
	if m := glueARN.FindStringSubmatch(res); m != nil {
		parts := strings.Split(m[1], "/")
		switch {
		case len(parts) == 1 && parts[0] == "catalog":
			return ""
		case parts[0] == "database" && len(parts) == 2 && !strings.ContainsAny(parts[1], "*?"):
			return ""
		case parts[0] == "table" && len(parts) == 3 && !strings.ContainsAny(parts[1], "*?") && parts[2] != "":
			return "" // any table of one database: the tables come from the contracts
		}
		return fmt.Sprintf("Glue resource %q is not the catalog, one database or tables of one database", res)
	}
	if kmsARN.MatchString(res) && strings.ContainsAny(res, "*?") {
		return fmt.Sprintf("KMS resource %q is a wildcard", res)
	}
	if strings.ContainsAny(res, "*?") {
		last := res[strings.LastIndex(res, "/")+1:]
		if last != "*" || strings.Count(res, "*") > 1 {
			return fmt.Sprintf("resource %q has a wildcard", res)
		}
		if strings.HasSuffix(res, ":*") || !strings.Contains(res, "/") {
			return fmt.Sprintf("resource %q has a wildcard", res)
		}
	}
	return ""
}

func TestNoWildcardResources(t *testing.T) {
	tests := []struct {
		description string
		file        string
		want        []string // substrings, one per expected problem, in order
	}{
		{"the repository's template", filepath.Join(testenv.RepoRoot(), "template.yaml"), nil},
		{"whole-bucket and wildcard grants are caught", filepath.Join("testdata", "wildcards.yaml"), []string{
			`Wide/WholeBucket: S3 resource "${Bucket.Arn}/*" is not confined`,
			`Wide/AnyBucket: S3 resource "arn:aws:s3:::*" names no single bucket`,
			`Wide/Star: Resource "*"`,
			`Wide/ServiceWide: wildcard action "s3:*"`,
			`Wide/AnyDatabase: Glue resource "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/*/*"`,
			`Wide/AnyKey: KMS resource "arn:aws:kms:eu-west-1:123456789012:key/*" is a wildcard`,
			`Wide/Lists: resource "arn:aws:logs:*:*:log-group:*" has a wildcard`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			got := wildcardProblems(loadTemplate(t, tc.file))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
	for id, why := range wildcardExceptions {
		t.Logf("allowed wildcard: %s (%s)", id, why)
	}
}

// tlsDenyProblems checks that every bucket has a policy denying requests
// without TLS with exactly Bool aws:SecureTransport "false" (a string).
func tlsDenyProblems(tp *template) []string {
	denied := map[string]bool{}
	var problems []string
	for _, bp := range tp.ofType("AWS::S3::BucketPolicy") {
		bucket := refTarget(path(bp.node, "Properties", "Bucket"))
		for _, st := range list(path(bp.node, "Properties", "PolicyDocument", "Statement")) {
			if text(get(st, "Effect")) != "Deny" {
				continue
			}
			cond := get(st, "Condition")
			secure := path(cond, "Bool", "aws:SecureTransport")
			if secure == nil {
				continue
			}
			switch {
			case len(cond.Content) != 2 || len(get(cond, "Bool").Content) != 2:
				problems = append(problems, fmt.Sprintf("%s: the TLS deny has other conditions besides Bool aws:SecureTransport", bp.name))
			case secure.Kind != yaml.ScalarNode || secure.Tag != "!!str" || secure.Value != "false":
				problems = append(problems, fmt.Sprintf(`%s: aws:SecureTransport is %s %q, want the string "false"`, bp.name, secure.Tag, secure.Value))
			case text(get(st, "Principal")) != "*" || !slices.Contains(values(get(st, "Action")), "s3:*"):
				problems = append(problems, fmt.Sprintf(`%s: the TLS deny must cover Principal "*" and Action s3:*`, bp.name))
			default:
				res := values(get(st, "Resource"))
				if !slices.Contains(res, "${"+bucket+"}") || !slices.Contains(res, "${"+bucket+".Arn}/*") {
					problems = append(problems, fmt.Sprintf("%s: the TLS deny must cover the bucket and its objects, got %q", bp.name, res))
					continue
				}
				denied[bucket] = true
			}
		}
	}
	for _, b := range tp.ofType("AWS::S3::Bucket") {
		if !denied[b.name] {
			problems = append(problems, fmt.Sprintf(`%s: no bucket policy denies requests with aws:SecureTransport "false"`, b.name))
		}
	}
	return problems
}

func TestTLSDeny(t *testing.T) {
	tests := []struct {
		description string
		file        string
		want        []string
	}{
		{"the repository's template", filepath.Join(testenv.RepoRoot(), "template.yaml"), nil},
		{"a boolean, a missing policy and an extra condition are caught", filepath.Join("testdata", "tls.yaml"), []string{
			`BoolPolicy: aws:SecureTransport is !!bool "false", want the string "false"`,
			`ExtraPolicy: the TLS deny has other conditions`,
			`Boolean: no bucket policy denies`,
			`Extra: no bucket policy denies`,
			`Bare: no bucket policy denies`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			got := tlsDenyProblems(loadTemplate(t, tc.file))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

var (
	// secretName matches names of keys, parameters and variables that
	// would hold a secret value.
	secretName = regexp.MustCompile(`(?i)pass(word|wd)?$|passw|secret|token|credential|api_?key|access_?key|private_?key`)
	// referenceName matches names that hold a reference to a secret, not
	// the secret itself.
	referenceName = regexp.MustCompile(`(?i)(arn|_arn|id|name|kmskeyarn)$`)
	// secretValue matches literal values that are secrets whatever their key.
	secretValue = []*regexp.Regexp{
		regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`), // URL with a password
		regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),             // AWS access key id
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
		regexp.MustCompile(`(?i)\bpassword\s*[=:]\s*\S`),
	}
)

// allowedEnvironment is the contract of the functions' environment: what
// each variable is, and which functions get it. A secret's value is never
// one of them: functions read it from Secrets Manager by ARN.
var allowedEnvironment = map[string][]string{
	"LAKE_URL":                  nil, // every function
	"LAKE_METRICS_NAMESPACE":    nil, // every function
	"LAKE_ARCHIVE_URL":          {"route"},
	"LAKE_SOURCE_SECRET_ARN":    {"plan", "ingest"},
	"LAKE_GLUE_DATABASE_PREFIX": {"route", "crawl", "maintain"},
	"LAKE_INGEST_PARTS":         {"plan"},
}

// secretProblems looks for secrets in plain text: literal values under
// secret-looking keys, secret-looking parameters without NoEcho, secret
// values anywhere, and environment variables beyond the contract.
func secretProblems(tp *template) []string {
	var problems []string
	pairs(get(tp.root, "Parameters"), func(name string, p *yaml.Node) {
		if !secretName.MatchString(name) {
			return
		}
		if referenceName.MatchString(name) {
			if pat := text(get(p, "AllowedPattern")); !strings.Contains(pat, "^arn:") {
				problems = append(problems, fmt.Sprintf("parameter %s: a secret's ARN parameter needs an AllowedPattern of ARNs, got %q", name, pat))
			}
			return
		}
		if text(get(p, "NoEcho")) != "true" {
			problems = append(problems, fmt.Sprintf("parameter %s: looks like a secret and is not NoEcho (better: pass a Secrets Manager ARN)", name))
		}
	})
	walk(tp.root, nil, func(n *yaml.Node, at []string) {
		if n.Kind == yaml.MappingNode {
			pairs(n, func(key string, v *yaml.Node) {
				if secretName.MatchString(key) && !referenceName.MatchString(key) && literal(v) &&
					!strings.HasPrefix(v.Value, "{{resolve:secretsmanager:") && !slices.Contains(at, "Parameters") {
					problems = append(problems, fmt.Sprintf("%s.%s: literal value under a secret-looking key", strings.Join(at, "."), key))
				}
			})
		}
		if n.Kind != yaml.ScalarNode {
			return
		}
		for _, re := range secretValue {
			if re.MatchString(n.Value) {
				problems = append(problems, fmt.Sprintf("%s: value looks like a secret (%s)", strings.Join(at, "."), re))
			}
		}
	})
	fns := tp.ofType("AWS::Serverless::Function")
	for _, fn := range fns {
		name := functionName(fn)
		vars := map[string]*yaml.Node{}
		pairs(path(tp.root, "Globals", "Function", "Environment", "Variables"), func(k string, v *yaml.Node) { vars[k] = v })
		pairs(path(fn.node, "Properties", "Environment", "Variables"), func(k string, v *yaml.Node) { vars[k] = v })
		for _, k := range sortedKeys(vars) {
			only, ok := allowedEnvironment[k]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: environment variable %s is not in the contract (allowed: %v)", fn.name, k, sortedKeys(allowedEnvironment)))
			case only != nil && !slices.Contains(only, name):
				problems = append(problems, fmt.Sprintf("%s: environment variable %s is only for %v", fn.name, k, only))
			case k == "LAKE_SOURCE_SECRET_ARN" && intrinsicName(vars[k]) != "Ref":
				problems = append(problems, fmt.Sprintf("%s: LAKE_SOURCE_SECRET_ARN must be !Ref of the secret ARN parameter", fn.name))
			}
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestNoPlaintextSecrets(t *testing.T) {
	tests := []struct {
		description string
		file        string
		want        []string
	}{
		{"the repository's template", filepath.Join(testenv.RepoRoot(), "template.yaml"), nil},
		{"passwords, URLs with passwords and keys are caught", filepath.Join("testdata", "secrets.yaml"), []string{
			"parameter DbPassword: looks like a secret and is not NoEcho",
			"parameter SourceSecretArn: a secret's ARN parameter needs an AllowedPattern",
			"Resources.Leaky.Properties.SecretString: literal value under a secret-looking key",
			"Resources.Fn.Properties.Environment.Variables.LAKE_SOURCE_URL: value looks like a secret",
			"Resources.Fn.Properties.Environment.Variables.AWS_KEY: value looks like a secret",
			"Fn: environment variable AWS_KEY is not in the contract",
			"Fn: environment variable LAKE_SOURCE_SECRET_ARN is only for [plan ingest]",
			"Fn: environment variable LAKE_SOURCE_URL is not in the contract",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			got := secretProblems(loadTemplate(t, tc.file))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// taskNames are the Lambda functions of the state machines, by the folder
// tasks/<name> that holds each one's main package.
var taskNames = slices.Sorted(slices.Values(pipeline.TaskNames))

// functionName is the task name of a function, the folder tasks/<name>
// of its main package: its logical id without "Function", in lower case
// (RecordFailureFunction: recordfailure). TestFunctionsRuntime checks that
// its FunctionName and TestMakefileBuilds that its build target agree.
func functionName(fn resource) string {
	return strings.ToLower(strings.TrimSuffix(fn.name, "Function"))
}

func TestFunctionsRuntime(t *testing.T) {
	tp := repoTemplate(t)
	if got := tp.ofType("AWS::Lambda::Function"); len(got) != 0 {
		t.Errorf("%s is a plain AWS::Lambda::Function; use AWS::Serverless::Function so that sam build builds it", got[0].name)
	}
	var names []string
	for _, fn := range tp.ofType("AWS::Serverless::Function") {
		names = append(names, functionName(fn))
		t.Run(fn.name, func(t *testing.T) {
			checks := []struct{ what, got, want string }{
				{"CodeUri", text(tp.functionProp(fn, "CodeUri")), "."},
				{"FunctionName", text(tp.functionProp(fn, "FunctionName")), "${NamePrefix}-" + functionName(fn)},
				{"Runtime", text(tp.functionProp(fn, "Runtime")), "provided.al2023"},
				{"Architectures", strings.Join(values(tp.functionProp(fn, "Architectures")), ","), "arm64"},
				{"Handler", text(tp.functionProp(fn, "Handler")), "bootstrap"},
				{"Metadata.BuildMethod", text(path(fn.node, "Metadata", "BuildMethod")), "makefile"},
				{"Tracing", text(tp.functionProp(fn, "Tracing")), "Active"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	sort.Strings(names)
	if !slices.Equal(names, taskNames) {
		t.Errorf("functions = %v, want one per task %v", names, taskNames)
	}
	for _, l := range tp.ofType("AWS::Serverless::LayerVersion") {
		if got := strings.Join(values(path(l.node, "Properties", "CompatibleArchitectures")), ","); got != "arm64" {
			t.Errorf("%s: CompatibleArchitectures = %q, want arm64", l.name, got)
		}
		if got := strings.Join(values(path(l.node, "Properties", "CompatibleRuntimes")), ","); got != "provided.al2023" {
			t.Errorf("%s: CompatibleRuntimes = %q, want provided.al2023", l.name, got)
		}
	}
}

func TestDataRetained(t *testing.T) {
	tp := repoTemplate(t)
	for _, typ := range []string{"AWS::S3::Bucket", "AWS::KMS::Key"} {
		for _, r := range tp.ofType(typ) {
			for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
				if got := text(get(r.node, policy)); got != "Retain" {
					t.Errorf("%s (%s): %s = %q, want Retain", r.name, typ, policy, got)
				}
			}
		}
	}
}

func TestBucketsHardened(t *testing.T) {
	tp := repoTemplate(t)
	for _, b := range tp.ofType("AWS::S3::Bucket") {
		t.Run(b.name, func(t *testing.T) {
			props := get(b.node, "Properties")
			rule := list(path(props, "BucketEncryption", "ServerSideEncryptionConfiguration"))
			pab := get(props, "PublicAccessBlockConfiguration")
			checks := []struct{ what, got, want string }{
				{"versioning", text(path(props, "VersioningConfiguration", "Status")), "Enabled"},
				{"ownership", text(get(list(path(props, "OwnershipControls", "Rules"))[0], "ObjectOwnership")), "BucketOwnerEnforced"},
				{"SSE algorithm", text(path(rule[0], "ServerSideEncryptionByDefault", "SSEAlgorithm")), "aws:kms"},
				{"SSE key", text(path(rule[0], "ServerSideEncryptionByDefault", "KMSMasterKeyID")), "${LakeKey}"},
				{"bucket key", text(get(rule[0], "BucketKeyEnabled")), "true"},
			}
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				checks = append(checks, struct{ what, got, want string }{k, text(get(pab, k)), "true"})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	if got := text(path(tp.resource("LakeBucket").node, "Properties", "NotificationConfiguration", "EventBridgeConfiguration", "EventBridgeEnabled")); got != "true" {
		t.Errorf("LakeBucket EventBridgeEnabled = %q, want true (the pipeline starts on Object Created events)", got)
	}
	lock := path(tp.resource("ArchiveBucket").node, "Properties", "ObjectLockConfiguration")
	if got := text(get(lock, "ObjectLockEnabled")); got != "Enabled" {
		t.Errorf("ArchiveBucket ObjectLockEnabled = %q, want Enabled", got)
	}
	mode := text(path(lock, "Rule", "DefaultRetention", "Mode"))
	if param := strings.Trim(mode, "${}"); text(path(tp.root, "Parameters", param, "Default")) != "GOVERNANCE" {
		t.Errorf("ArchiveBucket retention mode = %q, want a parameter defaulting to GOVERNANCE", mode)
	}
}

// TestStateMachinesInvokeOnlyOwnFunctions checks each state machine's
// role: it may invoke exactly the functions its definition calls (its
// DefinitionSubstitutions' !GetAtt <Function>.Arn) and nothing else, and
// its only other grants are log delivery and X-Ray; every function is
// called by a state machine, and no two share a role.
func TestStateMachinesInvokeOnlyOwnFunctions(t *testing.T) {
	tp := repoTemplate(t)
	sms := tp.ofType("AWS::Serverless::StateMachine")
	var all []string
	roles := map[string]string{}
	for _, sm := range sms {
		t.Run(sm.name, func(t *testing.T) {
			role := refTarget(path(sm.node, "Properties", "Role"))
			if role == "" || tp.resource(role) == nil {
				t.Fatalf("Role = %q, want !GetAtt of a role in this template", text(path(sm.node, "Properties", "Role")))
			}
			if other, ok := roles[role]; ok {
				t.Errorf("shares its role %s with %s", role, other)
			}
			roles[role] = sm.name
			if get(path(sm.node, "Properties"), "Policies") != nil {
				t.Errorf("has Policies besides its Role")
			}
			var calls []string
			pairs(path(sm.node, "Properties", "DefinitionSubstitutions"), func(_ string, v *yaml.Node) {
				if target := refTarget(v); intrinsicName(v) == "Fn::GetAtt" && tp.resource(target) != nil && tp.resource(target).typ == "AWS::Serverless::Function" {
					calls = append(calls, target)
				}
			})
			invoked := roleInvokes(t, tp, role)
			sort.Strings(invoked)
			sort.Strings(calls)
			if !slices.Equal(invoked, calls) {
				t.Errorf("its role invokes %v, want exactly the functions its definition calls %v", invoked, calls)
			}
			all = append(all, invoked...)
		})
	}
	var want []string
	for _, fn := range tp.ofType("AWS::Serverless::Function") {
		want = append(want, fn.name)
	}
	sort.Strings(all)
	sort.Strings(want)
	if !slices.Equal(all, want) {
		t.Errorf("the state machines invoke %v, want every function once %v", all, want)
	}
}

// roleInvokes lists the functions role may invoke, and fails t on any
// grant but invoking this template's functions, log delivery and X-Ray.
func roleInvokes(t *testing.T, tp *template, role string) []string {
	t.Helper()
	var invoked []string
	for _, st := range tp.statements() {
		if st.resource != role {
			continue
		}
		if get(st.node, "Principal") != nil { // the trust policy
			continue
		}
		for _, a := range values(get(st.node, "Action")) {
			switch {
			case a == "lambda:InvokeFunction":
				for _, rn := range list(get(st.node, "Resource")) {
					target := refTarget(rn)
					if intrinsicName(rn) != "Fn::GetAtt" || tp.resource(target) == nil || tp.resource(target).typ != "AWS::Serverless::Function" {
						t.Errorf("%s: invokes %q, want only !GetAtt <Function>.Arn of this template's functions", st.id(), text(rn))
					}
					invoked = append(invoked, target)
				}
			case strings.HasPrefix(a, "logs:") && st.sid == "LogsDelivery", strings.HasPrefix(a, "xray:") && st.sid == "XRayWrite":
			default:
				t.Errorf("%s: action %q; a state machine may only invoke its functions and deliver logs and traces", st.id(), a)
			}
		}
	}
	return invoked
}
