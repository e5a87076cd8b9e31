package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/gluepointer"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/schemas"
)

// Needs says which optional parts of the Config a task uses, so that each
// Lambda sets up (and has IAM permissions for) only those.
type Needs struct {
	Source  bool // plan, ingest: the source database's credentials
	Catalog bool // crawl: the meta tables in the Glue Data Catalog
	Tables  bool // route, crawl, maintain: the Iceberg tables (pointers in Glue)
}

// NeedsOf returns the Needs of task's Lambda (tasks/<task>/main.go): what
// its IAM policy in template.yaml grants it.
func NeedsOf(task string) Needs {
	switch task {
	case "plan", "ingest":
		return Needs{Source: true}
	case "route":
		return Needs{Tables: true}
	case "crawl":
		return Needs{Catalog: true, Tables: true}
	case "maintain":
		return Needs{Tables: true}
	}
	return Needs{}
}

// Environment variables a Lambda's Config is read from. None holds a
// secret: the source credentials stay in Secrets Manager.
const (
	EnvLake         = "LAKE_URL"               // s3://BUCKET[/PREFIX]
	EnvArchive      = "LAKE_ARCHIVE_URL"       // s3://ARCHIVE-BUCKET[/PREFIX]
	EnvSourceSecret = "LAKE_SOURCE_SECRET_ARN" // plan, ingest
	EnvParts        = "LAKE_INGEST_PARTS"      // plan: key ranges per table
	// EnvGlueDatabasePrefix (route, crawl, maintain) puts the lake's databases in
	// Glue as PREFIX+silver, PREFIX+discarded, PREFIX+meta.
	EnvGlueDatabasePrefix = "LAKE_GLUE_DATABASE_PREFIX"
	// EnvDQMemory (validate) bounds the rules' uniqueness and
	// distinct-count state, e.g. 256MiB (Config.DQMemory). Unset, it is a
	// quarter of the function's memory (256 MiB in a 1024 MB function).
	EnvDQMemory = "LAKE_DQ_MEMORY"
	// EnvMetricsNamespace (every function) turns on the tasks' CloudWatch
	// metrics, written to stdout in the embedded metric format.
	EnvMetricsNamespace = "LAKE_METRICS_NAMESPACE"
)

// FromEnv builds a Lambda's Pipeline from its environment, once at init:
// the lake and archive stores, the contracts embedded in the binary, and
// what needs asks for.
func FromEnv(ctx context.Context, needs Needs) (*Pipeline, error) {
	setMemoryLimit()
	lakeURL := os.Getenv(EnvLake)
	if lakeURL == "" {
		return nil, fmt.Errorf("pipeline: %s is not set", EnvLake)
	}
	cfg := Config{}
	var err error
	if cfg.DQMemory, err = dqMemory(); err != nil {
		return nil, err
	}
	if cfg.Lake, err = storeurl.Open(ctx, lakeURL); err != nil {
		return nil, err
	}
	if u := os.Getenv(EnvArchive); u != "" {
		if cfg.Archive, err = storeurl.Open(ctx, u); err != nil {
			return nil, err
		}
	}
	if cfg.Bucket, cfg.Prefix, err = S3Location(lakeURL); err != nil {
		return nil, err
	}
	if cfg.Tables, err = contract.LoadFS(schemas.FS); err != nil {
		return nil, err
	}
	if p := os.Getenv(EnvParts); p != "" {
		if cfg.Parts, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("pipeline: %s=%q: %w", EnvParts, p, err)
		}
	}
	if ns := os.Getenv(EnvMetricsNamespace); ns != "" {
		if cfg.Metrics, err = metrics.New(os.Stdout, ns); err != nil {
			return nil, fmt.Errorf("pipeline: %s: %w", EnvMetricsNamespace, err)
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: aws config: %w", err)
	}
	if needs.Source {
		arn := os.Getenv(EnvSourceSecret)
		if arn == "" {
			return nil, fmt.Errorf("pipeline: %s is not set", EnvSourceSecret)
		}
		if cfg.Source, err = SourceFromSecret(ctx, secretsmanager.NewFromConfig(awsCfg), arn); err != nil {
			return nil, err
		}
	}
	if err := cfg.UseGlue(glue.NewFromConfig(awsCfg), lakeURL, os.Getenv(EnvGlueDatabasePrefix), needs); err != nil {
		return nil, err
	}
	return New(cfg), nil
}

// UseGlue sets the meta tables' catalog (needs.Catalog) and the Iceberg
// tables' pointers (needs.Tables) of cfg, whose Lake is the S3 lake at
// lakeURL, to the Glue Data Catalog of client, in the databases
// prefix+silver, prefix+discarded and prefix+meta.
func (cfg *Config) UseGlue(client *glue.Client, lakeURL, prefix string, needs Needs) error {
	var err error
	if needs.Catalog {
		root := "s3://" + cfg.Bucket
		if cfg.Prefix != "" {
			root += "/" + cfg.Prefix
		}
		if cfg.Catalog, err = gluecatalog.New(client, root, gluecatalog.WithDatabasePrefix(prefix)); err != nil {
			return err
		}
	}
	if needs.Tables {
		b := gluepointer.New(client, "", gluepointer.WithDatabasePrefix(prefix))
		if cfg.Iceberg, err = OpenIceberg(cfg.Lake, lakeURL, b); err != nil {
			return err
		}
	}
	return nil
}

// S3Location returns the bucket and key prefix of an s3:// lake URL, and
// empty strings for any other lake (events are then not checked against
// a bucket).
func S3Location(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("pipeline: lake URL: %w", err)
	}
	if u.Scheme != "s3" {
		return "", "", nil
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// SecretsClient is the part of the Secrets Manager API the pipeline uses.
type SecretsClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// rdsSecret is the JSON that RDS and Secrets Manager's database rotation
// keep in a database secret.
type rdsSecret struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"`
	DBName   string          `json:"dbname"`
}

// SourceFromSecret reads a database secret in the RDS JSON shape
// (username, password, host, port, dbname) and returns the PostgreSQL URL
// to connect with (sslmode=require). Errors never include the secret's
// value.
func SourceFromSecret(ctx context.Context, c SecretsClient, arn string) (string, error) {
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("pipeline: get secret %s: %w", arn, err)
	}
	var s rdsSecret
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &s) != nil {
		return "", fmt.Errorf("pipeline: secret %s is not the JSON of a database secret (username, password, host, port, dbname)", arn)
	}
	var missing []string
	for name, v := range map[string]string{"username": s.Username, "password": s.Password, "host": s.Host, "dbname": s.DBName} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("pipeline: secret %s lacks %s", arn, strings.Join(missing, ", "))
	}
	port := strings.Trim(string(s.Port), `"`)
	if port == "" || port == "null" {
		port = "5432"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("pipeline: secret %s: port is not a number", arn)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.Username, s.Password),
		Host:     net.JoinHostPort(s.Host, port),
		Path:     "/" + s.DBName,
		RawQuery: "sslmode=require&application_name=lake",
	}
	return u.String(), nil
}

// MustFromEnv is FromEnv for a Lambda's main: a configuration error is
// logged (without secrets) and ends the process, which Lambda reports as
// an init error.
func MustFromEnv(needs Needs) *Pipeline {
	p, err := FromEnv(context.Background(), needs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return p
}

// lambdaMemoryShare is the share of a Lambda function's memory that the Go
// heap may use before the garbage collector works harder to stay under it;
// the rest is for the runtime, stacks and the Lambda's own.
const lambdaMemoryShare = 0.85

// setMemoryLimit sets the Go memory limit to lambdaMemoryShare of the
// function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in MB), unless
// GOMEMLIMIT says otherwise: a task's live memory is bounded by its
// budgets (route's partitions, the batches read ahead), and the limit
// keeps the garbage collector's headroom within the function too, so that
// the route task fits in a 256 MB function (docs/route.md).
func setMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if mb := lambdaMemoryMB(); mb > 0 {
		debug.SetMemoryLimit(int64(float64(mb) * lambdaMemoryShare * (1 << 20)))
	}
}

// lambdaMemoryMB is the function's memory in MB
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), or 0 outside Lambda.
func lambdaMemoryMB() int {
	mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mb <= 0 {
		return 0
	}
	return mb
}

// dqMemoryShare is the share of a Lambda function's memory that the DQ
// rules' state may use when LAKE_DQ_MEMORY is not set.
const dqMemoryShare = 0.25

// dqMemory is Config.DQMemory from LAKE_DQ_MEMORY, or dqMemoryShare of
// the function's memory, or 0 (dq's default) outside Lambda.
func dqMemory() (int64, error) {
	if v := os.Getenv(EnvDQMemory); v != "" {
		n, err := dq.ParseMemory(v)
		if err != nil {
			return 0, fmt.Errorf("pipeline: %s=%q: %w", EnvDQMemory, v, err)
		}
		return n, nil
	}
	return int64(float64(lambdaMemoryMB()) * dqMemoryShare * (1 << 20)), nil
}

// OpenIceberg opens the lake's Iceberg tables: the lake st at lakeURL (""
// for the URL the store says, store.Locator), its tables' pointers kept
// by b, or in the lake itself (lakepointer) when b is nil.
func OpenIceberg(st store.Store, lakeURL string, b icecatalog.Backend) (*icetable.Lake, error) {
	if l, ok := st.(store.Locator); ok && lakeURL == "" {
		lakeURL = l.URL()
	}
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	fs, err := icebergio.New(st, root)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if b == nil {
		b = lakepointer.New(fs)
	}
	return icetable.New(icecatalog.New(b, fs, icecatalog.Options{}), icetable.Options{}), nil
}
