package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/validate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestLakeKey(t *testing.T) {
	for _, tc := range []struct {
		description           string
		bucket, prefix        string
		eventBucket, eventKey string
		want                  string
		wantBad               bool
	}{
		{"local lake: any bucket", "", "", "local-lake", "bronze/landing/orders/a.parquet", "bronze/landing/orders/a.parquet", false},
		{"the lake's bucket", "lake", "", "lake", "bronze/landing/orders/a.parquet", "bronze/landing/orders/a.parquet", false},
		{"the prefix is stripped", "lake", "env/prod", "lake", "env/prod/bronze/landing/orders/a.parquet", "bronze/landing/orders/a.parquet", false},
		{"a trailing slash on the prefix", "lake", "env/prod/", "lake", "env/prod/bronze/landing/orders/a.parquet", "bronze/landing/orders/a.parquet", false},
		{"a key that looks URL-encoded is kept", "lake", "", "lake", "bronze/landing/orders/a%20b.parquet", "bronze/landing/orders/a%20b.parquet", false},
		{"another bucket", "lake", "", "other", "bronze/landing/orders/a.parquet", "", true},
		{"outside the prefix", "lake", "env/prod", "lake", "env/dev/bronze/landing/orders/a.parquet", "", true},
		{"a prefix that is only a string prefix", "lake", "env/prod", "lake", "env/production/bronze/landing/orders/a.parquet", "", true},
		{"no key", "lake", "", "lake", "", "", true},
	} {
		t.Run(tc.description, func(t *testing.T) {
			c := &Config{Bucket: tc.bucket, Prefix: tc.prefix}
			got, err := c.lakeKey(tc.eventBucket, tc.eventKey)
			var bad *BadInputError
			if tc.wantBad != errors.As(err, &bad) {
				t.Fatalf("lakeKey(%q, %q) error %v, want a *BadInputError: %v", tc.eventBucket, tc.eventKey, err, tc.wantBad)
			}
			if got != tc.want {
				t.Errorf("lakeKey(%q, %q) = %q, want %q", tc.eventBucket, tc.eventKey, got, tc.want)
			}
		})
	}
}

func TestS3Location(t *testing.T) {
	for _, tc := range []struct{ url, bucket, prefix string }{
		{"s3://lake", "lake", ""},
		{"s3://lake/env/prod/", "lake", "env/prod"},
		{"file:///tmp/lake", "", ""},
	} {
		b, p, err := S3Location(tc.url)
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("S3Location(%q) = %q, %q, %v; want %q, %q", tc.url, b, p, err, tc.bucket, tc.prefix)
		}
	}
}

// TestSourceFromSecret reads RDS-shaped secrets from Secrets Manager
// (moto_server): the URL is built with sslmode=require, and no error shows
// the password.
func TestSourceFromSecret(t *testing.T) {
	ctx := context.Background()
	client := secretsmanager.New(secretsmanager.Options{
		Region:       testenv.MotoRegion(),
		BaseEndpoint: aws.String(testenv.Moto(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	const password = "s3cr3t-p@ss/word"
	put := func(name, value string) string {
		out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	for _, tc := range []struct {
		description, secret string
		wantURL, wantErr    string
	}{
		{"rds shape", `{"username":"lake","password":"` + password + `","host":"db.example","port":6543,"dbname":"shop"}`, "postgres://lake:" + url.PathEscape(password) + "@db.example:6543/shop?sslmode=require&application_name=lake", ""},
		{"port as a string, default port", `{"username":"lake","password":"` + password + `","host":"db.example","dbname":"shop"}`, "postgres://lake:" + url.PathEscape(password) + "@db.example:5432/shop?sslmode=require&application_name=lake", ""},
		{"missing fields", `{"username":"lake","password":"` + password + `"}`, "", "lacks"},
		{"not JSON", password, "", "is not the JSON of a database secret"},
		{"port not a number", `{"username":"lake","password":"` + password + `","host":"h","port":"x","dbname":"d"}`, "", "port is not a number"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			arn := put(strings.ReplaceAll(tc.description, " ", "-")+"-"+testenv.MotoRegion(), tc.secret)
			got, err := SourceFromSecret(ctx, client, arn)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := u.User.Password(); p != password {
				t.Errorf("password from the URL = %q, want the secret's", p)
			}
			want, _ := url.Parse(tc.wantURL)
			if u.Host != want.Host || u.Path != want.Path || u.RawQuery != want.RawQuery || u.User.Username() != "lake" {
				t.Errorf("URL = %s, want %s", u.Redacted(), want.Redacted())
			}
		})
	}
	if _, err := SourceFromSecret(ctx, client, "arn:aws:secretsmanager:"+testenv.MotoRegion()+":123456789012:secret:missing-AbCdEf"); err == nil {
		t.Error("a missing secret gave no error")
	}
}

// TestFromEnv builds a Lambda's Pipeline from its environment.
func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		description string
		env         map[string]string
		wantErr     string
		dqMemory    int64
	}{
		{"a file lake", map[string]string{EnvLake: "file://" + dir}, "", 0},
		{"no lake", map[string]string{}, EnvLake + " is not set", 0},
		{"a bad part count", map[string]string{EnvLake: "file://" + dir, EnvParts: "many"}, EnvParts, 0},
		{"an unknown lake scheme", map[string]string{EnvLake: "ftp://lake"}, "ftp", 0},
		{"the source needs its secret", map[string]string{EnvLake: "file://" + dir}, EnvSourceSecret + " is not set", 0},
		{"a DQ memory budget", map[string]string{EnvLake: "file://" + dir, EnvDQMemory: "64MiB"}, "", 64 << 20},
		{"a bad DQ memory budget", map[string]string{EnvLake: "file://" + dir, EnvDQMemory: "lots"}, EnvDQMemory, 0},
		{"a quarter of the function's memory", map[string]string{EnvLake: "file://" + dir, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "GOMEMLIMIT": "off"}, "", 128 << 20},
	} {
		t.Run(tc.description, func(t *testing.T) {
			for _, k := range []string{EnvLake, EnvArchive, EnvSourceSecret, EnvParts, EnvDQMemory, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			t.Setenv("AWS_REGION", "us-east-1")
			needs := Needs{Source: strings.Contains(tc.description, "source")}
			p, err := FromEnv(context.Background(), needs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FromEnv: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if p.cfg.Lake == nil || p.cfg.Archive == nil || len(p.cfg.Tables) == 0 {
				t.Errorf("config %+v: want a lake, an archive and the embedded contracts", p.cfg)
			}
			if p.cfg.DQMemory != tc.dqMemory {
				t.Errorf("DQMemory = %d, want %d", p.cfg.DQMemory, tc.dqMemory)
			}
		})
	}
}

// TestRouteToCrawl runs the object path's tasks through their JSON
// handlers, handing each the fields the state machine hands it: the crawl
// commits what the route wrote, from the route record alone, and then
// deletes the bronze object.
func TestRouteToCrawl(t *testing.T) {
	ctx := context.Background()
	l := bronzetest.NewLake(t)
	rows := bronzetest.GoodRows(30)
	rows[4].Status = bronzetest.P("paid")
	const key = "bronze/landing/orders/20260101T000000.000000Z_20260103T000000.000000Z/all/part-00000.parquet"
	info := bronzetest.Put(t, l.Store, key, bronzetest.OrdersParquet(t, rows))
	p := New(Config{Lake: l.Store, Tables: l.Tables, Catalog: localcatalog.New(l.Store)})
	call := func(task string, in any) json.RawMessage {
		t.Helper()
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Handler(task)(ctx, b)
		if err != nil {
			t.Fatalf("%s: %v", task, err)
		}
		return out
	}
	v := call("validate", ObjectInput{Bucket: "local-lake", Key: key, ETag: info.ETag, Size: info.Size})
	var vo validate.Output
	json.Unmarshal(v, &vo)
	r := call("route", json.RawMessage(v))
	var ro route.Output
	if err := json.Unmarshal(r, &ro); err != nil {
		t.Fatal(err)
	}
	if ro.SilverRows != 29 || ro.DiscardedRows != 1 {
		t.Fatalf("route %+v, want 29 silver and 1 discarded rows", ro)
	}
	// the Crawl state's Payload: {"table.$": "$.route.table", "record_key.$": "$.route.record_key"}
	c := call("crawl", CrawlInput{Table: ro.Table, RecordKey: ro.RecordKey})
	var co crawl.Output
	if err := json.Unmarshal(c, &co); err != nil {
		t.Fatal(err)
	}
	if !co.BronzeDeleted {
		t.Error("crawl did not delete the bronze object")
	}
	if _, err := l.Store.Stat(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bronze object after the crawl: %v", err)
	}
	orders, _ := contract.Find(l.Tables, "orders")
	for kind, want := range map[icetable.Kind]int64{icetable.Silver: 29, icetable.Current: 29, icetable.Discarded: 1} {
		s, err := p.Iceberg().Stats(ctx, kind, orders)
		if err != nil || s.Rows != want {
			t.Errorf("%s: %+v, %v; want %d rows committed", kind, s, err, want)
		}
	}
	// a duplicate event now: DONE
	again := call("validate", ObjectInput{Bucket: "local-lake", Key: key, ETag: info.ETag, Size: info.Size})
	var ao validate.Output
	json.Unmarshal(again, &ao)
	if ao.Verdict != validate.Done {
		t.Errorf("duplicate event after the commit: %s, want DONE", ao.Verdict)
	}
	// crawl of a record that is not there: a bad input, nothing deleted
	_, err := p.Handler("crawl")(ctx, json.RawMessage(`{"table": "orders", "record_key": "`+filepath.Join(layout.MetaPrefix, "routes", "orders", "nope.json")+`"}`))
	var bad *BadInputError
	if !errors.As(err, &bad) {
		t.Errorf("crawl of a missing record: %v, want a *BadInputError", err)
	}
}

// TestMemoryLimit: a Lambda's Go memory limit follows its memory size,
// unless GOMEMLIMIT is set.
func TestMemoryLimit(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	for _, tc := range []struct {
		description, size, gomemlimit string
		want                          int64
	}{
		{"a 256 MB function", "256", "", 228170137},
		{"GOMEMLIMIT wins", "256", "1GiB", was},
		{"not in Lambda", "", "", was},
	} {
		t.Run(tc.description, func(t *testing.T) {
			debug.SetMemoryLimit(was)
			t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", tc.size)
			if tc.gomemlimit != "" {
				t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			} else {
				os.Unsetenv("GOMEMLIMIT")
			}
			setMemoryLimit()
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit %d, want %d", got, tc.want)
			}
		})
	}
}
