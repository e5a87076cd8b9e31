package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/medallionlake/lake/internal/iamrec"
)

// stack is the template as CloudFormation would create it for one set of
// parameter values in one account: what its intrinsic functions resolve to
// (Ref, Fn::GetAtt, Fn::Sub, Fn::If, ...) and the names and ARNs its
// resources get. Names CloudFormation would generate are made up the same
// way (STACK-LogicalId-SUFFIX). An intrinsic, pseudo parameter, resource
// type or attribute it does not model is an error naming it, so a template
// change that needs more fails loudly rather than resolving wrongly.
type stack struct {
	tp      *template
	name    string
	account iamrec.Account
	params  map[string]any // string, or []any of strings for list types
}

// noValue is what AWS::NoValue resolves to: the property or list item is
// dropped.
type noValueT struct{}

var noValue = noValueT{}

// newStack resolves tp for the given parameter values (the others take
// their Default; one without either is an error) in account.
func newStack(tp *template, name string, account iamrec.Account, values map[string]string) (*stack, error) {
	s := &stack{tp: tp, name: name, account: account, params: map[string]any{}}
	var errs []string
	for p := range values {
		if path(tp.root, "Parameters", p) == nil {
			errs = append(errs, fmt.Sprintf("%s is not a parameter of the template", p))
		}
	}
	pairs(get(tp.root, "Parameters"), func(p string, def *yaml.Node) {
		v, ok := values[p]
		if !ok {
			d := get(def, "Default")
			if d == nil {
				errs = append(errs, fmt.Sprintf("parameter %s has no value and no default", p))
				return
			}
			v = d.Value
		}
		typ := text(get(def, "Type"))
		isList := typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<")
		if pat := text(get(def, "AllowedPattern")); pat != "" && !isList && !regexp.MustCompile(pat).MatchString(v) {
			errs = append(errs, fmt.Sprintf("parameter %s=%q does not match its AllowedPattern %s", p, v, pat))
		}
		if isList {
			var items []any
			if v != "" {
				for _, it := range strings.Split(v, ",") {
					items = append(items, it)
				}
			}
			s.params[p] = items
			return
		}
		s.params[p] = v
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return s, nil
}

// str resolves n to a string.
func (s *stack) str(n *yaml.Node) (string, error) {
	v, err := s.eval(n)
	if err != nil {
		return "", err
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s resolves to %v, not a string", describe(n), v)
	}
	return str, nil
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "a missing value"
	}
	b, _ := yaml.Marshal(n)
	return fmt.Sprintf("line %d (%s)", n.Line, strings.TrimSpace(string(b)))
}

// eval resolves n: a string for a scalar, []any for a sequence, map[string]any
// for a mapping, noValue for AWS::NoValue.
func (s *stack) eval(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, fmt.Errorf("a missing value")
	}
	name := intrinsicName(n)
	if name == "" {
		switch n.Kind {
		case yaml.ScalarNode:
			return n.Value, nil
		case yaml.SequenceNode:
			var out []any
			for _, c := range n.Content {
				v, err := s.eval(c)
				if err != nil {
					return nil, err
				}
				if v != noValue {
					out = append(out, v)
				}
			}
			return out, nil
		case yaml.MappingNode:
			out := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				v, err := s.eval(n.Content[i+1])
				if err != nil {
					return nil, err
				}
				if v != noValue {
					out[n.Content[i].Value] = v
				}
			}
			return out, nil
		}
		return nil, fmt.Errorf("%s: unexpected YAML node", describe(n))
	}
	arg := intrinsicArg(n)
	args := func(want int) ([]*yaml.Node, error) {
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != want {
			return nil, fmt.Errorf("%s: %s takes %d arguments", describe(n), name, want)
		}
		return arg.Content, nil
	}
	switch name {
	case "Ref":
		return s.ref(arg.Value)
	case "Fn::GetAtt":
		res, attr, ok := strings.Cut(arg.Value, ".")
		if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
			res, attr, ok = arg.Content[0].Value, arg.Content[1].Value, true
		}
		if !ok {
			return nil, fmt.Errorf("%s: Fn::GetAtt needs Resource.Attribute", describe(n))
		}
		return s.getAtt(res, attr)
	case "Fn::Sub":
		tmpl, vars := arg, map[string]any{}
		if arg.Kind == yaml.SequenceNode {
			a, err := args(2)
			if err != nil {
				return nil, err
			}
			tmpl = a[0]
			m, err := s.eval(a[1])
			if err != nil {
				return nil, err
			}
			vars = m.(map[string]any)
		}
		return s.sub(tmpl.Value, vars)
	case "Fn::Join":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		items, err := s.eval(a[1])
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, it := range items.([]any) {
			parts = append(parts, fmt.Sprint(it))
		}
		return strings.Join(parts, a[0].Value), nil
	case "Fn::Select":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(a[0].Value)
		if err != nil {
			return nil, fmt.Errorf("%s: index %q", describe(n), a[0].Value)
		}
		items, err := s.eval(a[1])
		if err != nil {
			return nil, err
		}
		list, _ := items.([]any)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("%s: index %d of a list of %d", describe(n), i, len(list))
		}
		return list[i], nil
	case "Fn::If":
		a, err := args(3)
		if err != nil {
			return nil, err
		}
		ok, err := s.condition(a[0].Value)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.eval(a[1])
		}
		return s.eval(a[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return s.truth(n)
	}
	return nil, fmt.Errorf("%s: the test's stack does not model %s", describe(n), name)
}

// truth evaluates a condition function.
func (s *stack) truth(n *yaml.Node) (bool, error) {
	arg := intrinsicArg(n)
	switch intrinsicName(n) {
	case "Condition":
		return s.condition(arg.Value)
	case "Fn::Equals":
		if len(arg.Content) != 2 {
			return false, fmt.Errorf("%s: Fn::Equals takes 2 arguments", describe(n))
		}
		a, err := s.eval(arg.Content[0])
		if err != nil {
			return false, err
		}
		b, err := s.eval(arg.Content[1])
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		var vals []bool
		for _, c := range arg.Content {
			v, err := s.truth(c)
			if err != nil {
				return false, err
			}
			vals = append(vals, v)
		}
		switch intrinsicName(n) {
		case "Fn::Not":
			return len(vals) == 1 && !vals[0], nil
		case "Fn::And":
			return !slices.Contains(vals, false), nil
		default:
			return slices.Contains(vals, true), nil
		}
	}
	return false, fmt.Errorf("%s is not a condition function", describe(n))
}

// condition evaluates the template's condition name.
func (s *stack) condition(name string) (bool, error) {
	c := path(s.tp.root, "Conditions", name)
	if c == nil {
		return false, fmt.Errorf("no condition %s", name)
	}
	return s.truth(c)
}

// subVar matches ${Name}, ${Name.Attr} and ${!Literal}.
var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves a Fn::Sub template.
func (s *stack) sub(tmpl string, vars map[string]any) (string, error) {
	var err error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var v any
		var e error
		if vv, ok := vars[name]; ok {
			v = vv
		} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, e = s.getAtt(res, attr)
		} else {
			v, e = s.ref(name)
		}
		if e != nil && err == nil {
			err = e
		}
		str, ok := v.(string)
		if !ok && err == nil {
			err = fmt.Errorf("${%s} in Fn::Sub resolves to %v, not a string", name, v)
		}
		return str
	})
	return out, err
}

// ref resolves Ref name: a parameter, a pseudo parameter or a resource.
func (s *stack) ref(name string) (any, error) {
	switch name {
	case "AWS::AccountId":
		return s.account.ID, nil
	case "AWS::Region":
		return s.account.Region, nil
	case "AWS::Partition":
		return s.account.Partition, nil
	case "AWS::StackName":
		return s.name, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return noValue, nil
	}
	if v, ok := s.params[name]; ok {
		return v, nil
	}
	r := s.tp.resource(name)
	if r == nil {
		return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
	}
	switch r.typ {
	case "AWS::S3::Bucket":
		return s.named(r, "BucketName", true)
	case "AWS::KMS::Key":
		return "0000aaaa-1111-2222-3333-" + fmt.Sprintf("%012x", len(name)), nil
	case "AWS::Serverless::Function":
		return s.named(r, "FunctionName", false)
	case "AWS::Serverless::StateMachine":
		n, err := s.named(r, "Name", false)
		return s.arn("states", "stateMachine:"+n), err
	case "AWS::SQS::Queue":
		n, err := s.named(r, "QueueName", false)
		return "https://sqs." + s.account.Region + ".amazonaws.com/" + s.account.ID + "/" + n, err
	case "AWS::SNS::Topic":
		n, err := s.named(r, "TopicName", false)
		return s.arn("sns", n), err
	case "AWS::Glue::Database":
		return s.str(path(r.node, "Properties", "DatabaseInput", "Name"))
	case "AWS::Athena::WorkGroup":
		return s.named(r, "Name", false)
	case "AWS::Logs::LogGroup":
		return s.named(r, "LogGroupName", false)
	case "AWS::CloudWatch::Alarm":
		return s.named(r, "AlarmName", false)
	case "AWS::CloudWatch::Dashboard":
		return s.named(r, "DashboardName", false)
	case "AWS::IAM::ManagedPolicy":
		return "arn:" + s.account.Partition + ":iam::" + s.account.ID + ":policy/" + s.generated(r, false), nil
	case "AWS::EC2::SecurityGroup":
		return "sg-0" + fmt.Sprintf("%016x", len(name)), nil
	}
	return nil, fmt.Errorf("Ref %s: the test's stack does not model resources of type %s", name, r.typ)
}

// getAtt resolves Fn::GetAtt res.attr.
func (s *stack) getAtt(res, attr string) (any, error) {
	r := s.tp.resource(res)
	if r == nil {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	ref := func() (string, error) {
		v, err := s.ref(res)
		str, _ := v.(string)
		return str, err
	}
	switch r.typ + "." + attr {
	case "AWS::S3::Bucket.Arn":
		n, err := ref()
		return "arn:" + s.account.Partition + ":s3:::" + n, err
	case "AWS::KMS::Key.Arn":
		id, err := ref()
		return s.arn("kms", "key/"+id), err
	case "AWS::Serverless::Function.Arn":
		n, err := ref()
		return s.arn("lambda", "function:"+n), err
	case "AWS::Serverless::StateMachine.Name":
		return s.named(r, "Name", false)
	case "AWS::SQS::Queue.Arn":
		n, err := s.named(r, "QueueName", false)
		return s.arn("sqs", n), err
	case "AWS::SQS::Queue.QueueName":
		return s.named(r, "QueueName", false)
	case "AWS::SQS::Queue.QueueUrl":
		return ref()
	case "AWS::IAM::Role.Arn":
		n, err := s.named(r, "RoleName", false)
		return "arn:" + s.account.Partition + ":iam::" + s.account.ID + ":role/" + n, err
	case "AWS::Events::Rule.Arn":
		n, err := s.named(r, "Name", false)
		return s.arn("events", "rule/"+n), err
	case "AWS::Logs::LogGroup.Arn":
		n, err := ref()
		return s.arn("logs", "log-group:"+n+":*"), err
	case "AWS::CloudWatch::Alarm.Arn":
		n, err := ref()
		return s.arn("cloudwatch", "alarm:"+n), err
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: the test's stack does not model the attribute %s of %s", res, attr, attr, r.typ)
}

// arn is an ARN of service in the stack's Region and account.
func (s *stack) arn(service, resource string) string {
	return "arn:" + s.account.Partition + ":" + service + ":" + s.account.Region + ":" + s.account.ID + ":" + resource
}

// named is the name r gets: its property prop when set, else the one
// CloudFormation generates (lower case for buckets).
func (s *stack) named(r *resource, prop string, lower bool) (string, error) {
	if n := path(r.node, "Properties", prop); n != nil {
		return s.str(n)
	}
	return s.generated(r, lower), nil
}

func (s *stack) generated(r *resource, lower bool) string {
	n := s.name + "-" + r.name + "-1A2B3C4D5E6F"
	if lower {
		n = strings.ToLower(n)
	}
	return n
}
