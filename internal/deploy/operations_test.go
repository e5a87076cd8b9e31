package deploy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/medallionlake/lake/internal/iamrec"
	"github.com/medallionlake/lake/internal/pipeline"
)

// testStack resolves the repository's template for checks that need values.
func testStack(t *testing.T) *stack {
	t.Helper()
	s, err := newStack(repoTemplate(t), "lake-test", iamrec.Account{Partition: "aws", Region: "eu-west-1", ID: "123456789012"}, map[string]string{
		"NamePrefix": "conf", "SourceSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lake/source-AbCdEf",
		"VpcId": "vpc-1", "SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSecretArnPattern(t *testing.T) {
	pat := regexp.MustCompile(text(path(repoTemplate(t).root, "Parameters", "SourceSecretArn", "AllowedPattern")))
	tests := []struct {
		arn  string
		want bool
	}{
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:lake/source-AbCdEf", true},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-3f2a1c0e-5b7d-4c1e-9f0a-2b3c4d5e6f70-Xy12Ab", true}, // RDS's ManageMasterUserPassword
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-db-credentials/cluster-ABC/lake-Xy12Ab", true},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:lake_source.v2@prod-q1W2e3", true},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:lake/source", false},       // partial: no suffix
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:lake/source-AbCdE", false}, // five characters
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:lake/source-*", false},
		{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:-AbCdEf", false},
		{"arn:aws:ssm:eu-west-1:123456789012:parameter/lake-AbCdEf", false},
	}
	for _, tc := range tests {
		if got := pat.MatchString(tc.arn); got != tc.want {
			t.Errorf("SourceSecretArn %s: accepted %v, want %v", tc.arn, got, tc.want)
		}
	}
}

// nameProps are the properties that name a resource in its account and
// Region (or globally), by resource type.
var nameProps = map[string]string{
	"AWS::Serverless::Function":     "FunctionName",
	"AWS::Serverless::StateMachine": "Name",
	"AWS::Logs::LogGroup":           "LogGroupName",
	"AWS::Athena::WorkGroup":        "Name",
	"AWS::SNS::Topic":               "TopicName",
	"AWS::CloudWatch::Alarm":        "AlarmName",
	"AWS::CloudWatch::Dashboard":    "DashboardName",
	"AWS::Events::Rule":             "Name",
	"AWS::KMS::Alias":               "AliasName",
}

// TestNamesUsePrefix checks that every name the stack gives is made from
// NamePrefix (so two stacks with different prefixes never collide), that
// the Glue databases are PREFIX_<the lake's name> as the crawl function's
// LAKE_GLUE_DATABASE_PREFIX says, and that the resources that would
// collide otherwise have no fixed name.
func TestNamesUsePrefix(t *testing.T) {
	tp := repoTemplate(t)
	s := testStack(t)
	for _, r := range tp.resources() {
		prop, named := nameProps[r.typ]
		if !named {
			for _, fixed := range []string{"BucketName", "QueueName", "RoleName", "ManagedPolicyName", "GroupName"} {
				if path(r.node, "Properties", fixed) != nil {
					t.Errorf("%s: fixed %s; let CloudFormation name it, or add the type to nameProps", r.name, fixed)
				}
			}
			continue
		}
		n := path(r.node, "Properties", prop)
		if n == nil {
			continue // CloudFormation generates a unique name
		}
		if v := text(n); !strings.Contains(v, "${NamePrefix}") && refTarget(n) != "NamePrefix" {
			t.Errorf("%s: %s %q does not use NamePrefix", r.name, prop, v)
		}
	}
	for _, sm := range tp.ofType("AWS::Serverless::StateMachine") {
		pairs(path(sm.node, "Properties", "Events"), func(ev string, n *yaml.Node) {
			if name := path(n, "Properties", "Name"); text(get(n, "Type")) == "ScheduleV2" && !strings.Contains(text(name), "${NamePrefix}") {
				t.Errorf("%s schedule %s: Name %q does not use NamePrefix", sm.name, ev, text(name))
			}
		})
	}
	var crawlPrefix string
	for _, f := range tp.ofType("AWS::Serverless::Function") {
		if v := path(f.node, "Properties", "Environment", "Variables", pipeline.EnvGlueDatabasePrefix); v != nil {
			var err error
			if crawlPrefix, err = s.str(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var dbs []string
	for _, r := range tp.ofType("AWS::Glue::Database") {
		name, err := s.str(path(r.node, "Properties", "DatabaseInput", "Name"))
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, name)
	}
	sort.Strings(dbs)
	want := []string{crawlPrefix + "discarded", crawlPrefix + "meta", crawlPrefix + "silver"}
	if crawlPrefix != "conf_" || !slices.Equal(dbs, want) {
		t.Errorf("Glue databases %v with %s=%q, want %v", dbs, pipeline.EnvGlueDatabasePrefix, crawlPrefix, want)
	}
}

// TestEndpointSubnets checks that the Secrets Manager interface endpoint
// takes its own subnets (one per Availability Zone), which a rule requires
// when the stack creates endpoints, and not the functions' subnets.
func TestEndpointSubnets(t *testing.T) {
	tp := repoTemplate(t)
	ep := tp.resource("SecretsManagerEndpoint")
	if ep == nil {
		t.Fatal("no SecretsManagerEndpoint")
	}
	if got := refTarget(path(ep.node, "Properties", "SubnetIds")); got != "EndpointSubnetIds" {
		t.Errorf("SecretsManagerEndpoint SubnetIds = !Ref %s, want !Ref EndpointSubnetIds", got)
	}
	if d := text(path(tp.root, "Parameters", "EndpointSubnetIds", "Description")); !strings.Contains(d, "one per") {
		t.Errorf("EndpointSubnetIds description %q does not say one subnet per Availability Zone", d)
	}
	var required bool
	pairs(get(tp.root, "Rules"), func(_ string, rule *yaml.Node) {
		for _, a := range list(get(rule, "Assertions")) {
			b, _ := yaml.Marshal(get(a, "Assert"))
			cond, _ := yaml.Marshal(get(rule, "RuleCondition"))
			if strings.Contains(string(b), "EndpointSubnetIds") && strings.Contains(string(cond), "CreateVpcEndpoints") {
				required = true
			}
		}
	})
	if !required {
		t.Error("no rule requires EndpointSubnetIds when CreateVpcEndpoints is true")
	}
}

// TestStartsAreConfined checks how executions start: every role a service
// assumes names this account in an aws:SourceAccount condition; every
// event source has a role of the template's (not one SAM generates
// without the condition), retries and a dead-letter queue.
func TestStartsAreConfined(t *testing.T) {
	tp := repoTemplate(t)
	for _, role := range tp.ofType("AWS::IAM::Role") {
		for _, st := range list(path(role.node, "Properties", "AssumeRolePolicyDocument", "Statement")) {
			if path(st, "Principal", "Service") == nil {
				continue
			}
			if got := refTarget(path(st, "Condition", "StringEquals", "aws:SourceAccount")); got != "AWS::AccountId" {
				t.Errorf("%s: trusts %v without Condition StringEquals aws:SourceAccount = !Ref AWS::AccountId", role.name, values(path(st, "Principal", "Service")))
			}
		}
	}
	for _, sm := range tp.ofType("AWS::Serverless::StateMachine") {
		pairs(path(sm.node, "Properties", "Events"), func(ev string, n *yaml.Node) {
			props := get(n, "Properties")
			if get(props, "RoleArn") == nil {
				t.Errorf("%s event %s (%s): no RoleArn, so SAM generates a role without aws:SourceAccount", sm.name, ev, text(get(n, "Type")))
			}
			if path(props, "DeadLetterConfig", "Arn") == nil || get(props, "RetryPolicy") == nil {
				t.Errorf("%s event %s: want a RetryPolicy and a DeadLetterConfig Arn", sm.name, ev)
			}
		})
	}
	for _, rule := range tp.ofType("AWS::Events::Rule") {
		for _, target := range list(path(rule.node, "Properties", "Targets")) {
			if get(target, "RoleArn") == nil || path(target, "DeadLetterConfig", "Arn") == nil || get(target, "RetryPolicy") == nil {
				t.Errorf("%s: target %s needs a RoleArn, a RetryPolicy and a DeadLetterConfig", rule.name, text(get(target, "Id")))
			}
		}
	}
}

// TestAlarms checks that an operator hears of what goes wrong: failed,
// timed-out and aborted executions of every state machine, every queue's depth (the dead-letter
// queues), and a table's discard rate above DiscardRateThreshold, each
// notifying the alarm topic, which AlarmEmail subscribes to when set.
func TestAlarms(t *testing.T) {
	tp := repoTemplate(t)
	s := testStack(t)
	watched := map[string]bool{}
	for _, a := range tp.ofType("AWS::CloudWatch::Alarm") {
		props := get(a.node, "Properties")
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if acts := list(get(props, key)); len(acts) != 1 || refTarget(acts[0]) != "AlarmTopic" {
				t.Errorf("%s: %s = %v, want [!Ref AlarmTopic]", a.name, key, values(get(props, key)))
			}
		}
		for _, d := range list(get(props, "Dimensions")) {
			watched[text(get(props, "MetricName"))+" "+refTarget(get(d, "Value"))] = true
		}
		for _, m := range list(get(props, "Metrics")) {
			expr, err := s.str(get(m, "Expression"))
			if err != nil {
				t.Fatal(err)
			}
			watched[expr] = true
			if !strings.Contains(expr, `"MedallionLake/conf"`) {
				t.Errorf("%s: query %q is not in the functions' namespace", a.name, expr)
			}
			if refTarget(get(props, "Threshold")) == "DiscardRateThreshold" && strings.Contains(expr, "DiscardRate") && strings.Contains(expr, "GROUP BY TableName") {
				watched["discard rate per table"] = true
			}
		}
	}
	want := []string{"discard rate per table"}
	for _, sm := range tp.ofType("AWS::Serverless::StateMachine") {
		for _, m := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} {
			want = append(want, m+" "+sm.name)
		}
	}
	for _, q := range tp.ofType("AWS::SQS::Queue") {
		want = append(want, "ApproximateNumberOfMessagesVisible "+q.name)
	}
	for _, w := range want {
		if !watched[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
	sub := tp.resource("AlarmEmailSubscription")
	if sub == nil || text(get(sub.node, "Condition")) != "HasAlarmEmail" || refTarget(path(sub.node, "Properties", "Endpoint")) != "AlarmEmail" ||
		refTarget(path(sub.node, "Properties", "TopicArn")) != "AlarmTopic" {
		t.Error("want AlarmEmailSubscription: AlarmEmail subscribed to AlarmTopic under the condition HasAlarmEmail")
	}
	if ok, err := s.condition("HasAlarmEmail"); err != nil || ok {
		t.Errorf("HasAlarmEmail with the default AlarmEmail: %v, %v; want false (no subscription)", ok, err)
	}
}

// insightsMetric matches the metric of a Metrics Insights query:
// SELECT FN(Metric) FROM SCHEMA("Namespace", ...).
var insightsMetric = regexp.MustCompile(`SELECT \w+\((\w+)\) FROM SCHEMA\("([^"]+)"`)

// TestDashboard resolves the dashboard's body: it must be JSON, show only
// metrics the functions publish, in the namespace their environment gives,
// and every alarm of the template.
func TestDashboard(t *testing.T) {
	tp := repoTemplate(t)
	s := testStack(t)
	body, err := s.str(path(tp.resource("Dashboard").node, "Properties", "DashboardBody"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Metrics [][]any
				Alarms  []string
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v\n%s", err, body)
	}
	ns, err := s.str(path(tp.root, "Globals", "Function", "Environment", "Variables", pipeline.EnvMetricsNamespace))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	var alarms []string
	for _, w := range dash.Widgets {
		alarms = append(alarms, w.Properties.Alarms...)
		for _, m := range w.Properties.Metrics {
			if len(m) == 0 {
				continue
			}
			if ex, ok := m[0].(map[string]any); ok {
				q := fmt.Sprint(ex["expression"])
				sm := insightsMetric.FindStringSubmatch(q)
				if sm == nil {
					t.Errorf("expression %q is not a Metrics Insights query the test reads", q)
					continue
				}
				if sm[2] != ns {
					t.Errorf("query %q reads namespace %s, want the functions' %s", q, sm[2], ns)
				}
				if !slices.Contains(pipeline.Metrics, sm[1]) {
					t.Errorf("query %q reads %s, which no task publishes (pipeline.Metrics)", q, sm[1])
				}
				shown[sm[1]] = true
			}
		}
	}
	for _, m := range pipeline.Metrics {
		if !shown[m] {
			t.Errorf("the dashboard does not show the metric %s", m)
		}
	}
	var want []string
	for _, a := range tp.ofType("AWS::CloudWatch::Alarm") {
		arn, err := s.getAtt(a.name, "Arn")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, arn.(string))
	}
	sort.Strings(alarms)
	sort.Strings(want)
	if !slices.Equal(alarms, want) {
		t.Errorf("the dashboard's alarm widget shows %v, want every alarm %v", alarms, want)
	}
}
