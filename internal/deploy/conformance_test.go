package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/iamrec"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/gluepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/icetable/icetabletest"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/schemas"
)

// The IAM conformance test runs the pipeline end to end (a real
// PostgreSQL source, real S3-compatible buckets, the Glue and Secrets
// Manager APIs of moto_server, the state machine definition in the local
// interpreter) with each function configured from its own environment in
// template.yaml, as pipeline.FromEnv would configure it in AWS, and each
// function's store, catalog and Secrets Manager calls recorded as IAM
// requests (package iamrec). Then it evaluates every request against that
// function's policy in the template, and the state machine's invocations
// against its role: an action the code performs that the policy does not
// allow fails the test; a grant no request used is listed.
//
// Everything is derived from the template and from what was recorded: the
// functions, their environment, the buckets and their keys, the Glue
// databases, the definition's substitutions, the schedule's input.

// conformanceRows is the size of the source table: enough for a bronze
// object larger than the store's read-ahead cache (4 MiB), so that the
// route step's one pass reads it from the store in several ranged reads,
// some of them after it has written its first data file (flakyReads).
const conformanceRows = 400_000

// function is one Lambda function of the template, set up as in AWS.
type function struct {
	res  resource
	task string
	arn  string
	env  map[string]string
	lake store.Store // its lake bucket, its requests recorded
	log  iamrec.Log
	emf  syncBuffer
	p    *pipeline.Pipeline
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a Map
// state's items.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// conformance is the deployment the test runs: the stack, its functions,
// the buckets and the state machine.
type conformance struct {
	s       *stack
	fns     []*function
	buckets map[string]store.Store // the real bucket behind each of the template's bucket names
	lake    string                 // the lake bucket's name
	flaky   *flakyReads            // the route function's lake store
	// machines are the state machines by logical id, roles their roles.
	machines map[string]*asl.Machine
	roles    map[string]string
	source   string // the source database's URL
	glue     *glue.Client
	account  iamrec.Account
	mu       sync.Mutex
	invokes  map[string][]iamrec.Request // each role's lambda:InvokeFunction requests
	tables   []*contract.Table
}

func TestIAMConformance(t *testing.T) {
	ctx := context.Background()
	c := newConformance(t)
	db := seedSource(t, ctx, c)

	runOn := func(machine, what string, input any) *asl.Execution {
		t.Helper()
		raw, ok := input.(json.RawMessage)
		if !ok {
			raw, _ = json.Marshal(input)
		}
		exec, err := c.machines[machine].Run(ctx, raw, asl.RunOptions{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %s %s", what, exec.Status, exec.Error)
		return exec
	}
	run := func(what string, input any) *asl.Execution { t.Helper(); return runOn("Pipeline", what, input) }
	succeeded := func(what string, exec *asl.Execution) {
		t.Helper()
		if exec.Status != asl.StatusSucceeded {
			t.Fatalf("%s: execution %s: %s: %s", what, exec.Status, exec.Error, exec.Cause)
		}
	}

	// The ingest path: a whole-table load by hand (one object of every
	// row), then the scheduled start of the template's schedule after a
	// tenth of the orders changed (the template's key ranges per table).
	succeeded("manual start, one range", run("manual start, one range", pipeline.StartInput{Source: "manual", Parts: 1}))
	landing := c.pending(t, ctx)
	if len(landing) != 1 {
		t.Fatalf("%d bronze objects after a one-range ingest, want 1", len(landing))
	}
	big := landing[0]
	if big.Size <= 4<<20 {
		t.Logf("note: the bronze object is %d bytes, within the store's read-ahead cache: route reads it once", big.Size)
	}
	if _, err := db.Exec(ctx, `UPDATE orders SET status = 'SHIPPED', updated_at = clock_timestamp() WHERE order_id % 10 = 3`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // ingest's margin
	succeeded("scheduled start", run("scheduled start", c.scheduleInput(t, "Pipeline")))

	// The validate path for every object in landing: the first one's
	// ranged reads turn bad once route has written its first data file (an
	// object damaged or replaced under route, or a flaky read), so route
	// finds it corrupt midway and quarantines it, and the data files it
	// had written are never committed; a CSV dropped by hand is
	// quarantined at once.
	if _, err := c.buckets[c.lake].Put(ctx, "bronze/landing/orders/dropped-by-hand.csv", strings.NewReader("order_id,status\n1,PAID\n"), nil); err != nil {
		t.Fatal(err)
	}
	objs := c.pending(t, ctx)
	for _, o := range objs {
		if o.Key == big.Key {
			c.flaky.target.Store(&o.Key)
		}
		succeeded(o.Key, run(o.Key, c.event(o)))
		c.flaky.target.Store(nil)
	}
	if n := c.flaky.served.Load(); n > 0 {
		t.Logf("route's reads of %s after its first data file got %d damaged ranges", big.Key, n)
	}
	// A duplicate event for a routed object, and an object of a table
	// without a contract, which fails and is recorded.
	succeeded("duplicate event", run("duplicate event", c.event(objs[len(objs)-1])))
	nosuch, err := c.buckets[c.lake].Put(ctx, "bronze/landing/nosuch/part-00000.parquet", strings.NewReader("PAR1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if exec := run("object of a table without a contract", c.event(nosuch)); exec.Status != asl.StatusFailed {
		t.Fatalf("object of a table without a contract: %s, want FAILED", exec.Status)
	}

	// The maintenance of the Iceberg tables, started by its schedule,
	// over the tables the pipeline committed to and many small objects
	// more.
	ice := c.iceberg(t, nil)
	orders := c.tables[0]
	want := icetabletest.Want{} // what the pipeline committed, and then the small objects
	for _, k := range icetable.Kinds {
		want[k] = icetabletest.Read(t, ice, orders, k)
	}
	want = icetabletest.Fill(t, ice, orders, "conformance", 4, 100, want)
	exec := runOn("Maintenance", "scheduled maintenance", c.scheduleInput(t, "Maintenance"))
	succeeded("scheduled maintenance", exec)
	var report maintain.Report
	if err := json.Unmarshal(exec.Output, &report); err != nil || report.Maintained != 3 {
		t.Errorf("maintenance output %s (%v), want the 3 tables of orders maintained", exec.Output, err)
	}
	for _, res := range report.Tables {
		if m := res.Maintenance; m == nil || m.RewrittenDataFiles == 0 || m.DataFiles != m.Partitions {
			t.Errorf("%s: %+v, want its small files compacted", res.Kind, m)
		}
	}
	icetabletest.Check(t, ice, orders, want)
	// An object whose files were written and never committed (a commit
	// step that crashed): a maintenance started by hand with a short
	// orphan age removes them.
	icetabletest.Write(t, ice, orders, icetable.Silver, icetable.Object{Key: "bronze/landing/orders/crashed.parquet", ETag: "e"},
		[]bronzetest.Order{icetabletest.Order(1, 9), icetabletest.Order(2, 9)})
	time.Sleep(1100 * time.Millisecond)
	exec = runOn("Maintenance", "manual maintenance", json.RawMessage(`{"source":"manual","orphan_age":"1s"}`))
	succeeded("manual maintenance", exec)
	report = maintain.Report{}
	if err := json.Unmarshal(exec.Output, &report); err != nil || report.Tables[0].Maintenance.RemovedOrphans == 0 {
		t.Errorf("maintenance output %s (%v), want the uncommitted files of silver.orders removed", exec.Output, err)
	}
	icetabletest.Check(t, ice, orders, want)

	// A scheduled run after maintenance: the commit merges changed orders
	// into the compacted _current through the key indexes that
	// maintenance wrote.
	if _, err := db.Exec(ctx, `UPDATE orders SET status = 'DELIVERED', updated_at = clock_timestamp() WHERE order_id % 10 = 7`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // ingest's margin
	succeeded("scheduled start after maintenance", run("scheduled start after maintenance", c.scheduleInput(t, "Pipeline")))
	for _, o := range c.pending(t, ctx) {
		if o.Key != nosuch.Key {
			succeeded(o.Key, run(o.Key, c.event(o)))
		}
	}

	c.checkPolicies(t)
	c.checkMetrics(t)
}

// iceberg opens the lake's Iceberg tables as a function configured with
// env does, their pointers in Glue: with the calls recorded to log, or,
// with a nil log, as the test itself.
func (c *conformance) iceberg(t *testing.T, f *function) *icetable.Lake {
	t.Helper()
	var env map[string]string
	var lake store.Store
	if f != nil {
		env, lake = f.env, f.lake
	} else {
		env, lake = c.fns[0].env, c.buckets[c.lake]
	}
	prefix := env[pipeline.EnvGlueDatabasePrefix]
	if prefix == "" {
		prefix = c.s.params["NamePrefix"].(string) + "_"
	}
	b := icecatalog.Backend(gluepointer.New(c.glue, "", gluepointer.WithDatabasePrefix(prefix)))
	if f != nil {
		b = iamrec.IcebergBackend(b, c.account, func(ns string) string { return prefix + ns }, &f.log)
	}
	ice, err := pipeline.OpenIceberg(lake, env[pipeline.EnvLake], b)
	if err != nil {
		t.Fatal(err)
	}
	return ice
}

func newConformance(t *testing.T) *conformance {
	t.Helper()
	ctx := context.Background()
	tp := repoTemplate(t)
	motoURL, region := testenv.Moto(t), testenv.MotoRegion()
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	sm := secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(motoURL), Credentials: creds})
	glueClient := glue.New(glue.Options{Region: region, BaseEndpoint: aws.String(motoURL), Credentials: creds})

	// The source secret, as RDS keeps it.
	pg, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	pass, ok := pg.User.Password()
	if !ok {
		pass = "not-needed-by-the-test-cluster" // RDS secrets always have one
	}
	value, _ := json.Marshal(map[string]any{"username": pg.User.Username(), "password": pass, "host": pg.Hostname(), "port": pg.Port(), "dbname": strings.TrimPrefix(pg.Path, "/")})
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("lake/source"), SecretString: aws.String(string(value))})
	if err != nil {
		t.Fatal(err)
	}
	secretARN := aws.ToString(created.ARN)
	account := iamrec.Account{Partition: "aws", Region: region, ID: strings.Split(secretARN, ":")[4]}
	s, err := newStack(tp, "lake-conformance", account, map[string]string{
		"NamePrefix":            "conf",
		"SourceSecretArn":       secretARN, // the template's AllowedPattern checks it is complete
		"SourceSecretKmsKeyArn": "arn:aws:kms:" + region + ":" + account.ID + ":key/5ec2e7aa-0000-4000-8000-000000000001",
		"VpcId":                 "vpc-0a1b2c3d", "SubnetIds": "subnet-0a1b2c3d,subnet-1a2b3c4d", "SecurityGroupIds": "sg-0a1b2c3d",
	})
	if err != nil {
		t.Fatal(err)
	}

	// The Glue databases the stack creates.
	for _, r := range tp.ofType("AWS::Glue::Database") {
		name, err := s.str(path(r.node, "Properties", "DatabaseInput", "Name"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := glueClient.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(name)}}); err != nil {
			t.Fatal(err)
		}
	}

	c := &conformance{s: s, buckets: map[string]store.Store{}, source: pg.String(), glue: glueClient, account: account,
		machines: map[string]*asl.Machine{}, roles: map[string]string{}, invokes: map[string][]iamrec.Request{}}
	tables, err := contract.LoadFS(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	c.tables = tables
	handlers := map[string]func(role string) asl.Handler{}
	for _, r := range tp.ofType("AWS::Serverless::Function") {
		f := &function{res: r, task: functionName(r)}
		arn, err := s.getAtt(r.name, "Arn")
		if err != nil {
			t.Fatal(err)
		}
		f.arn = arn.(string)
		f.env = c.environment(t, r)
		cfg := pipeline.Config{Tables: tables, Ingest: ingest.Options{Margin: 10 * time.Millisecond}}
		lakeURL := f.env[pipeline.EnvLake]
		if cfg.Bucket, cfg.Prefix, err = pipeline.S3Location(lakeURL); err != nil || cfg.Bucket == "" {
			t.Fatalf("%s: %s=%q: not an s3:// URL (%v)", r.name, pipeline.EnvLake, lakeURL, err)
		}
		c.lake = cfg.Bucket
		lake := c.bucket(t, cfg.Bucket)
		if f.task == "route" {
			c.flaky = &flakyReads{Store: lake}
			lake = c.flaky
		}
		cfg.Lake = iamrec.Store(lake, c.bucketInfo(t, lakeURL), account, &f.log)
		f.lake = cfg.Lake
		if u := f.env[pipeline.EnvArchive]; u != "" {
			b, _, _ := pipeline.S3Location(u)
			cfg.Archive = iamrec.Store(c.bucket(t, b), c.bucketInfo(t, u), account, &f.log)
		}
		needs := pipeline.NeedsOf(f.task)
		prefix := f.env[pipeline.EnvGlueDatabasePrefix]
		if needs.Catalog {
			root := "s3://" + cfg.Bucket
			if cfg.Prefix != "" {
				root += "/" + cfg.Prefix
			}
			gc, err := gluecatalog.New(glueClient, root, gluecatalog.WithDatabasePrefix(prefix))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Catalog = iamrec.Catalog(gc, account, gc.DatabaseName, &f.log)
		}
		if needs.Tables {
			cfg.Iceberg = c.iceberg(t, f)
		}
		if arn := f.env[pipeline.EnvSourceSecret]; needs.Source {
			// What FromEnv reads at init; the test's cluster has no TLS,
			// which the URL from the secret requires, so the run connects
			// with the test's own URL to the same database.
			key := s.params["SourceSecretKmsKeyArn"].(string) // the secret's key
			src, err := pipeline.SourceFromSecret(ctx, iamrec.Secrets(sm, key, account, &f.log), arn)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if u, _ := url.Parse(src); u.Hostname() != pg.Hostname() || u.Path != pg.Path {
				t.Fatalf("%s: the source secret gives %s, want the test database", r.name, u.Redacted())
			}
			cfg.Source = pg.String()
		}
		if n := f.env[pipeline.EnvParts]; n != "" {
			if cfg.Parts, err = strconv.Atoi(n); err != nil {
				t.Fatal(err)
			}
		}
		if ns := f.env[pipeline.EnvMetricsNamespace]; ns != "" {
			if cfg.Metrics, err = metrics.New(&f.emf, ns); err != nil {
				t.Fatal(err)
			}
		}
		f.p = pipeline.New(cfg)
		h := f.p.Handler(f.task)
		handlers[f.arn] = func(role string) asl.Handler {
			return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				c.mu.Lock()
				c.invokes[role] = append(c.invokes[role], iamrec.Request{Action: "lambda:InvokeFunction", Resource: f.arn, Call: "state machine: " + f.task})
				c.mu.Unlock()
				return h(ctx, in)
			}
		}
		c.fns = append(c.fns, f)
	}
	for _, sm := range tp.ofType("AWS::Serverless::StateMachine") {
		c.loadMachine(t, sm, handlers)
	}
	return c
}

// environment is fn's environment as Lambda sets it: the template's
// global variables and its own, resolved.
func (c *conformance) environment(t *testing.T, fn resource) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, n := range []*yaml.Node{path(c.s.tp.root, "Globals", "Function", "Environment", "Variables"), path(fn.node, "Properties", "Environment", "Variables")} {
		if n == nil {
			continue
		}
		v, err := c.s.eval(n)
		if err != nil {
			t.Fatalf("%s: environment: %v", fn.name, err)
		}
		for k, val := range v.(map[string]any) {
			env[k] = fmt.Sprint(val)
		}
	}
	return env
}

// bucket returns the real bucket that stands for the template's bucket
// name: a fresh bucket on the test S3 server.
func (c *conformance) bucket(t *testing.T, name string) store.Store {
	t.Helper()
	if st, ok := c.buckets[name]; ok {
		return st
	}
	st, err := s3store.New(context.Background(), testenv.S3(t).Options(""))
	if err != nil {
		t.Fatal(err)
	}
	c.buckets[name] = st
	return st
}

// bucketInfo describes the bucket of an s3:// URL for iamrec: its name,
// prefix and default KMS key, from the template's bucket of that name.
func (c *conformance) bucketInfo(t *testing.T, u string) iamrec.Bucket {
	t.Helper()
	name, prefix, _ := pipeline.S3Location(u)
	for _, r := range c.s.tp.ofType("AWS::S3::Bucket") {
		if n, err := c.s.ref(r.name); err != nil || n != name {
			continue
		}
		b := iamrec.Bucket{Name: name, Prefix: prefix}
		rules := list(path(r.node, "Properties", "BucketEncryption", "ServerSideEncryptionConfiguration"))
		if len(rules) > 0 {
			if key := path(rules[0], "ServerSideEncryptionByDefault", "KMSMasterKeyID"); key != nil {
				var err error
				if b.KMSKey, err = c.s.str(key); err != nil {
					t.Fatal(err)
				}
			}
		}
		return b
	}
	t.Fatalf("%s names no bucket of the template", u)
	return iamrec.Bucket{}
}

// loadMachine loads the state machine sm's definition with its
// DefinitionSubstitutions resolved, the functions' ARNs bound to their
// handlers, which record the invocations as requests of sm's role.
func (c *conformance) loadMachine(t *testing.T, sm resource, handlers map[string]func(role string) asl.Handler) {
	t.Helper()
	props := path(sm.node, "Properties")
	role := refTarget(get(props, "Role"))
	c.roles[sm.name] = role
	def, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), text(get(props, "DefinitionUri"))))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	v, err := c.s.eval(get(props, "DefinitionSubstitutions"))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.(map[string]any) {
		subs[k] = fmt.Sprint(val)
	}
	bound := map[string]asl.Handler{}
	for arn, h := range handlers {
		bound[arn] = h(role)
	}
	name, err := c.s.str(get(props, "Name"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := asl.Load(def, asl.Options{Name: name, Substitutions: subs, Handlers: bound})
	if err != nil {
		t.Fatalf("%s: %v", sm.name, err)
	}
	c.machines[sm.name] = m
}

// scheduleInput is the input the template's schedule of the state
// machine machine starts it with.
func (c *conformance) scheduleInput(t *testing.T, machine string) json.RawMessage {
	t.Helper()
	var in string
	pairs(path(c.s.tp.resource(machine).node, "Properties", "Events"), func(_ string, ev *yaml.Node) {
		if text(get(ev, "Type")) == "ScheduleV2" {
			in = text(path(ev, "Properties", "Input"))
		}
	})
	if !json.Valid([]byte(in)) {
		t.Fatalf("%s: the schedule's Input %q is not JSON", machine, in)
	}
	return json.RawMessage(in)
}

// event is the Object Created event S3 sends through EventBridge for obj.
func (c *conformance) event(obj store.ObjectInfo) pipeline.ObjectCreatedEvent {
	return pipeline.NewObjectCreatedEvent(c.lake, obj.Key, obj.ETag, obj.Size, time.Now().UTC().Format(time.RFC3339))
}

// pending lists bronze/landing/ in the lake bucket.
func (c *conformance) pending(t *testing.T, ctx context.Context) []store.ObjectInfo {
	t.Helper()
	var out []store.ObjectInfo
	for o, err := range c.buckets[c.lake].List(ctx, "bronze/landing/") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// seedSource creates the orders table with conformanceRows rows, 5% of
// them defective, created over 130 days.
func seedSource(t *testing.T, ctx context.Context, c *conformance) *pgx.Conn {
	t.Helper()
	db, err := pgx.Connect(ctx, c.source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if _, err := seed.Run(ctx, db, seed.Options{Rows: conformanceRows, Defects: 0.05, Seed: 13}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE orders SET created_at = created_at - (order_id % 100) * interval '1 day'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // ingest's margin
	return db
}

// flakyReads is the route function's view of the lake bucket: while
// target is set, the target object's ranged reads return damaged bytes
// once route has written a data file of a silver table, as a
// damaged or replaced object, or a flaky network, would. Only the bytes
// between the Parquet magic at the start and the footer length and magic
// at the end are damaged, so the object still looks like Parquet.
type flakyReads struct {
	store.Store
	target atomic.Pointer[string]
	armed  atomic.Bool
	served atomic.Int64
}

// Put implements store.Store.
func (f *flakyReads) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	info, err := f.Store.Put(ctx, key, r, opts)
	if err == nil && f.target.Load() != nil && strings.HasPrefix(key, "silver/") {
		f.armed.Store(true)
	}
	return info, err
}

// GetRange implements store.Store.
func (f *flakyReads) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := f.Store.GetRange(ctx, key, offset, length)
	target := f.target.Load()
	if err != nil || target == nil || *target != key || !f.armed.Load() {
		if target == nil {
			f.armed.Store(false)
		}
		return rc, err
	}
	defer rc.Close()
	info, err := f.Store.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	for i := range b {
		if pos := offset + int64(i); pos >= 4 && pos < info.Size-8 {
			b[i] ^= 0x5a
		}
	}
	f.served.Add(1)
	return io.NopCloser(bytes.NewReader(b)), nil
}

// checkPolicies evaluates each function's recorded requests against its
// policy, and the state machine's invocations against its role, and
// prints what each granted and what each used.
func (c *conformance) checkPolicies(t *testing.T) {
	t.Helper()
	type subject struct {
		name string
		sts  []policyStatement
		reqs []iamrec.Request
	}
	var subjects []subject
	for _, f := range c.fns {
		sts, err := functionStatements(c.s, f.res)
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, subject{f.res.name, sts, f.log.Requests()})
	}
	for _, machine := range slices.Sorted(maps.Keys(c.roles)) {
		role := c.roles[machine]
		sts, err := roleStatements(c.s, role)
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		subjects = append(subjects, subject{role + " (state machine " + machine + ")", sts, slices.Clone(c.invokes[role])})
		c.mu.Unlock()
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n| function | granted actions | actions its run recorded |\n| --- | --- | --- |\n")
	for _, sub := range subjects {
		used := map[string]bool{} // statement + action pattern + resource pattern
		denied := map[string][]iamrec.Request{}
		recorded := map[string]bool{}
		for _, r := range sub.reqs {
			recorded[r.Action] = true
			by, err := decide(sub.sts, r)
			if err != nil {
				t.Fatalf("%s: %v", sub.name, err)
			}
			if len(by) == 0 {
				g := denialGroup(r)
				denied[g] = append(denied[g], r)
				continue
			}
			for _, st := range sub.sts {
				if !slices.Contains(by, st.where) {
					continue
				}
				for _, a := range st.actions {
					for _, res := range st.resources {
						if matchAction(a, r.Action) && matchARN(res, r.Resource) {
							used[st.where+" "+a+" "+res] = true
						}
					}
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(denied)) {
			rs := denied[k]
			t.Errorf("%s: %s is not allowed by its policy: %d requests, e.g. on %s (the call: %s)", sub.name, k, len(rs), rs[0].Resource, rs[0].Call)
		}
		granted := map[string]bool{}
		for _, st := range sub.sts {
			for _, a := range st.actions {
				granted[a] = true
				for _, res := range st.resources {
					if !used[st.where+" "+a+" "+res] {
						t.Logf("%s: grant never used: %s %s on %s", sub.name, st.where, a, res)
					}
				}
			}
		}
		fmt.Fprintf(&table, "| %s | %s | %s |\n", sub.name, strings.Join(slices.Sorted(maps.Keys(granted)), ", "), strings.Join(slices.Sorted(maps.Keys(recorded)), ", "))
	}
	t.Log(table.String())
}

// denialGroup is what denied requests are reported by: the action, the
// resource (an S3 object's key cut after two folders) and the context.
func denialGroup(r iamrec.Request) string {
	res := r.Resource
	if head, key, ok := strings.Cut(res, ":s3:::"); ok {
		if parts := strings.SplitN(key, "/", 4); len(parts) == 4 {
			res = head + ":s3:::" + strings.Join(parts[:3], "/") + "/…"
		}
	}
	return r.Action + " on " + res + contextText(r)
}

func contextText(r iamrec.Request) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(r.Context)) {
		kv = append(kv, k+"="+r.Context[k])
	}
	if len(kv) == 0 {
		return ""
	}
	return " (" + strings.Join(kv, ", ") + ")"
}

// checkMetrics checks what the functions published: valid EMF events,
// in the namespace of their environment, of the pipeline's metrics only,
// and rows that add up: every row route read went to silver or discarded.
func (c *conformance) checkMetrics(t *testing.T) {
	t.Helper()
	sums := map[string]float64{}
	for _, f := range c.fns {
		for _, line := range strings.Split(strings.TrimSpace(f.emf.String()), "\n") {
			if line == "" {
				continue
			}
			if err := metrics.Validate([]byte(line)); err != nil {
				t.Fatalf("%s: %s: %v", f.res.name, line, err)
			}
			var ev struct {
				AWS struct {
					CloudWatchMetrics []struct {
						Namespace string
						Metrics   []struct{ Name string }
					}
				} `json:"_aws"`
			}
			var values map[string]any
			json.Unmarshal([]byte(line), &ev)
			json.Unmarshal([]byte(line), &values)
			for _, d := range ev.AWS.CloudWatchMetrics {
				if d.Namespace != f.env[pipeline.EnvMetricsNamespace] {
					t.Errorf("%s: namespace %q, want its %s %q", f.res.name, d.Namespace, pipeline.EnvMetricsNamespace, f.env[pipeline.EnvMetricsNamespace])
				}
				for _, m := range d.Metrics {
					if !slices.Contains(pipeline.Metrics, m.Name) {
						t.Errorf("%s: metric %s is not one of pipeline.Metrics", f.res.name, m.Name)
					}
					if v, ok := values[m.Name].(float64); ok {
						sums[f.task+"."+m.Name] += v
					}
				}
			}
		}
	}
	if sums["route.RowsIn"] == 0 || sums["route.RowsIn"] != sums["route.SilverRows"]+sums["route.DiscardedRows"] {
		t.Errorf("route's metrics: rows in %v, silver %v, discarded %v: want rows in = silver + discarded > 0", sums["route.RowsIn"], sums["route.SilverRows"], sums["route.DiscardedRows"])
	}
	if sums["ingest.IngestedRows"] == 0 || sums["recordfailure.Failures"] != 1 {
		t.Errorf("metrics: %d rows ingested, %v failures recorded; want rows and the one failure", int64(sums["ingest.IngestedRows"]), sums["recordfailure.Failures"])
	}
	t.Logf("metrics published: %v", sums)
}
