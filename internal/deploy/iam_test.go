package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/medallionlake/lake/internal/iamrec"
)

// policyStatement is one resolved statement of an identity policy.
type policyStatement struct {
	where      string // "RouteFunction/WriteOutputs"
	effect     string
	actions    []string
	resources  []string
	conditions []policyCondition
}

// policyCondition is one condition operator on one key.
type policyCondition struct {
	op, key string
	values  []string
}

// functionStatements are the statements of fn's inline policies (SAM's
// Policies property, Fn::If and AWS::NoValue resolved): what the role SAM
// makes for the function allows besides the managed policies SAM attaches
// for logs, X-Ray and the VPC, which the tasks' code never calls. A SAM
// policy template or a managed policy in Policies is an error: the test
// would have to expand it.
func functionStatements(s *stack, fn resource) ([]policyStatement, error) {
	pols, err := s.eval(path(fn.node, "Properties", "Policies"))
	if err != nil {
		return nil, fmt.Errorf("%s: Policies: %w", fn.name, err)
	}
	var out []policyStatement
	for i, p := range pols.([]any) {
		doc, ok := p.(map[string]any)
		if !ok || doc["Statement"] == nil || len(doc) != 1 {
			return nil, fmt.Errorf("%s: Policies[%d] is %v, not an inline policy document ({Statement: ...}); expand SAM policy templates and managed policies in this test first", fn.name, i, p)
		}
		sts, err := parseStatements(fn.name, doc["Statement"])
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}

// roleStatements are the statements of an AWS::IAM::Role's inline
// policies.
func roleStatements(s *stack, role string) ([]policyStatement, error) {
	pols, err := s.eval(path(s.tp.resource(role).node, "Properties", "Policies"))
	if err != nil {
		return nil, fmt.Errorf("%s: Policies: %w", role, err)
	}
	var out []policyStatement
	for _, p := range pols.([]any) {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		sts, err := parseStatements(role, doc["Statement"])
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}

// strs turns a resolved string or list of strings into a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, it := range v {
			out = append(out, fmt.Sprint(it))
		}
		return out
	}
	return nil
}

func parseStatements(owner string, v any) ([]policyStatement, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []policyStatement
	for i, raw := range list {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: statement %d is not a mapping", owner, i)
		}
		st := policyStatement{where: fmt.Sprintf("%s/%v", owner, m["Sid"]), effect: fmt.Sprint(m["Effect"]),
			actions: strs(m["Action"]), resources: strs(m["Resource"])}
		if m["Sid"] == nil {
			st.where = fmt.Sprintf("%s/statement %d", owner, i)
		}
		for _, k := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
			if m[k] != nil {
				return nil, fmt.Errorf("%s: %s in an identity policy statement: the evaluator does not model it", st.where, k)
			}
		}
		if len(st.actions) == 0 || len(st.resources) == 0 {
			return nil, fmt.Errorf("%s: no Action or no Resource", st.where)
		}
		if cond, ok := m["Condition"].(map[string]any); ok {
			for op, keys := range cond {
				for key, vals := range keys.(map[string]any) {
					st.conditions = append(st.conditions, policyCondition{op: op, key: key, values: strs(vals)})
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// wildcard reports whether s matches pattern, where * matches any run of
// characters and ? any one character, as IAM matches actions and the
// parts of ARNs.
func wildcard(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && wildcard(pattern[1:], s[1:])
}

// matchARN reports whether resource matches pattern as IAM matches a
// Resource element: "*" matches everything; otherwise partition, service,
// Region, account and resource are matched part by part (a wildcard never
// spans a colon that separates them; the resource part may hold more).
func matchARN(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	p, r := strings.SplitN(pattern, ":", 6), strings.SplitN(resource, ":", 6)
	if len(p) != 6 || len(r) != 6 {
		return false
	}
	for i := range p {
		if !wildcard(p[i], r[i]) {
			return false
		}
	}
	return true
}

// matchAction reports whether action matches pattern (case-insensitive).
func matchAction(pattern, action string) bool {
	return wildcard(strings.ToLower(pattern), strings.ToLower(action))
}

// conditionHolds evaluates one condition against the request's context
// keys (names case-insensitive). A key the request lacks fails every
// operator but the negated ones and ...IfExists, as in IAM.
func conditionHolds(c policyCondition, ctx map[string]string) (bool, error) {
	op, ifExists := strings.CutSuffix(c.op, "IfExists")
	var got string
	found := false
	for k, v := range ctx {
		if strings.EqualFold(k, c.key) {
			got, found = v, true
		}
	}
	var negated bool
	var match func(want string) bool
	switch op {
	case "StringEquals", "ArnEquals":
		match = func(want string) bool { return got == want }
	case "StringNotEquals", "ArnNotEquals":
		negated, match = true, func(want string) bool { return got == want }
	case "StringEqualsIgnoreCase":
		match = func(want string) bool { return strings.EqualFold(got, want) }
	case "StringLike", "ArnLike":
		match = func(want string) bool { return wildcard(want, got) }
	case "StringNotLike", "ArnNotLike":
		negated, match = true, func(want string) bool { return wildcard(want, got) }
	case "Bool":
		match = func(want string) bool { return strings.EqualFold(got, want) }
	default:
		return false, fmt.Errorf("condition operator %s: the evaluator does not model it", c.op)
	}
	if !found {
		return ifExists || negated, nil
	}
	any := slices.ContainsFunc(c.values, match)
	return any != negated, nil
}

// matches reports whether st applies to r: an action, a resource and
// every condition match.
func (st policyStatement) matches(r iamrec.Request) (bool, error) {
	if !slices.ContainsFunc(st.actions, func(p string) bool { return matchAction(p, r.Action) }) {
		return false, nil
	}
	if !slices.ContainsFunc(st.resources, func(p string) bool { return matchARN(p, r.Resource) }) {
		return false, nil
	}
	for _, c := range st.conditions {
		ok, err := conditionHolds(c, r.Context)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// decide evaluates r against an identity policy as IAM does: an explicit
// Deny wins, else any Allow allows, else it is denied. It returns the
// statements that allowed it.
func decide(sts []policyStatement, r iamrec.Request) (allowedBy []string, err error) {
	for _, st := range sts {
		ok, err := st.matches(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.where, err)
		}
		if !ok {
			continue
		}
		if st.effect == "Deny" {
			return nil, nil
		}
		allowedBy = append(allowedBy, st.where)
	}
	return allowedBy, nil
}

func TestPolicyEvaluation(t *testing.T) {
	bucket := "arn:aws:s3:::lake-bkt"
	sts := []policyStatement{
		{where: "f/Bronze", effect: "Allow", actions: []string{"s3:GetObject", "s3:DeleteObject"}, resources: []string{bucket + "/bronze/landing/*"}},
		{where: "f/Rows", effect: "Allow", actions: []string{"s3:DeleteObject"}, resources: []string{bucket + "/discarded/*/rows/*"}},
		{where: "f/List", effect: "Allow", actions: []string{"s3:ListBucket"}, resources: []string{bucket},
			conditions: []policyCondition{{op: "StringLike", key: "s3:prefix", values: []string{"bronze/*", "_meta/*"}}}},
		{where: "f/Key", effect: "Allow", actions: []string{"kms:Decrypt"}, resources: []string{"arn:aws:kms:eu-west-1:123456789012:key/k"},
			conditions: []policyCondition{{op: "StringEquals", key: "kms:ViaService", values: []string{"s3.eu-west-1.amazonaws.com"}}}},
		{where: "f/Glue", effect: "Allow", actions: []string{"glue:Get*"}, resources: []string{"arn:aws:glue:eu-west-1:123456789012:table/lake_silver/*"}},
		{where: "f/NoSecrets", effect: "Deny", actions: []string{"s3:*"}, resources: []string{bucket + "/bronze/landing/secret*"}},
	}
	tests := []struct {
		description string
		r           iamrec.Request
		allowed     bool
	}{
		{"an object under the granted prefix", iamrec.Request{Action: "s3:GetObject", Resource: bucket + "/bronze/landing/orders/x.parquet"}, true},
		{"actions are case-insensitive", iamrec.Request{Action: "S3:getobject", Resource: bucket + "/bronze/landing/x"}, true},
		{"another prefix", iamrec.Request{Action: "s3:GetObject", Resource: bucket + "/silver/staging/x"}, false},
		{"an action not granted there", iamrec.Request{Action: "s3:PutObject", Resource: bucket + "/bronze/landing/x"}, false},
		{"a wildcard spans slashes", iamrec.Request{Action: "s3:DeleteObject", Resource: bucket + "/discarded/orders/rows/a/b.parquet"}, true},
		{"but not a missing segment", iamrec.Request{Action: "s3:DeleteObject", Resource: bucket + "/discarded/orders/quarantine/x/report.json"}, false},
		{"a listing with a granted prefix", iamrec.Request{Action: "s3:ListBucket", Resource: bucket, Context: map[string]string{"s3:prefix": "bronze/landing/"}}, true},
		{"a listing with another prefix", iamrec.Request{Action: "s3:ListBucket", Resource: bucket, Context: map[string]string{"s3:prefix": "silver/"}}, false},
		{"a request without the condition's key", iamrec.Request{Action: "s3:ListBucket", Resource: bucket}, false},
		{"KMS through S3", iamrec.Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:123456789012:key/k", Context: map[string]string{"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}, true},
		{"KMS directly", iamrec.Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:123456789012:key/k"}, false},
		{"an action wildcard", iamrec.Request{Action: "glue:GetTable", Resource: "arn:aws:glue:eu-west-1:123456789012:table/lake_silver/orders"}, true},
		{"a table pattern does not match its database", iamrec.Request{Action: "glue:GetTable", Resource: "arn:aws:glue:eu-west-1:123456789012:table/lake_silver"}, false},
		{"an explicit deny wins", iamrec.Request{Action: "s3:GetObject", Resource: bucket + "/bronze/landing/secret.parquet"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			by, err := decide(sts, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(by) > 0; got != tc.allowed {
				t.Errorf("allowed = %v (by %v), want %v", got, by, tc.allowed)
			}
		})
	}
	if _, err := decide([]policyStatement{{where: "f/x", effect: "Allow", actions: []string{"s3:*"}, resources: []string{"*"},
		conditions: []policyCondition{{op: "NumericLessThan", key: "s3:max-keys", values: []string{"10"}}}}},
		iamrec.Request{Action: "s3:ListBucket", Resource: bucket}); err == nil {
		t.Error("an operator the evaluator does not model was accepted")
	}
}

// TestStackResolves checks the test's stack on the repository's template:
// the names and ARNs the conformance test relies on come out as
// CloudFormation would make them.
func TestStackResolves(t *testing.T) {
	s := testStack(t)
	tp := s.tp
	for _, tc := range []struct {
		description string
		node        *yaml.Node
		want        string
	}{
		{"a function's name", path(tp.resource("RouteFunction").node, "Properties", "FunctionName"), "conf-route"},
		{"a Glue database's name", path(tp.resource("GlueSilverDatabase").node, "Properties", "DatabaseInput", "Name"), "conf_silver"},
		{"the lake URL", path(tp.root, "Globals", "Function", "Environment", "Variables", "LAKE_URL"), "s3://lake-test-lakebucket-1a2b3c4d5e6f"},
		{"the pipeline's ARN in a role's policy", get(path(list(path(tp.resource("ScheduleRole").node, "Properties", "Policies"))[0], "PolicyDocument", "Statement").Content[0], "Resource"),
			"arn:aws:states:eu-west-1:123456789012:stateMachine:conf-pipeline"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			got, err := s.str(tc.node)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := newStack(tp, "x", s.account, map[string]string{"NamePrefix": "Bad-Prefix"}); err == nil || !strings.Contains(err.Error(), "AllowedPattern") {
		t.Errorf("a value outside the AllowedPattern: %v, want an error", err)
	}
}
