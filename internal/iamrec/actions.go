package iamrec

import "fmt"

// on is what a request is authorized on.
type on int

const (
	onObject    on = iota // the object: arn:aws:s3:::BUCKET/PREFIX/KEY
	onBucket              // the bucket: arn:aws:s3:::BUCKET
	onBucketKey           // the bucket's SSE-KMS key, asked by S3 (none without one)
	onCatalog             // arn:aws:glue:REGION:ACCOUNT:catalog
	onDatabase            // ...:database/DATABASE
	onTable               // ...:table/DATABASE/TABLE
	onAllTables           // ...:table/DATABASE/* (GetTables reads them all)
	onSecret              // the secret's ARN
	onSecretKey           // the secret's customer-managed key, asked by Secrets Manager (none with aws/secretsmanager)
)

// need is one action on one resource.
type need struct {
	action string
	on     on
}

// glue is a Glue Data Catalog action on a table, which Glue authorizes on
// the catalog, the database and the table.
func glue(action string) []need {
	return []need{{action, onCatalog}, {action, onDatabase}, {action, onTable}}
}

// calls is what AWS authorizes for each call the wrappers see: the one
// place that maps the lake's store, catalog and secret calls to IAM. The
// rows follow what the AWS backends send (store/s3store,
// catalog/gluecatalog, icecatalog/gluepointer, pipeline.SourceFromSecret); a new method or a
// backend that sends other requests changes its row here.
var calls = map[string][]need{
	// store.Store on S3. A PUT to a bucket with SSE-KMS has S3 ask KMS
	// for a data key, a GET for a decryption; a HEAD reads no data.
	"store.Put": {{"s3:PutObject", onObject}, {"kms:GenerateDataKey", onBucketKey}},
	// A Put of the part size or more is a multipart upload (s3store): S3
	// decrypts the uploaded parts to complete it, and a failed upload is
	// aborted.
	"store.Put multipart": {{"s3:PutObject", onObject}, {"s3:AbortMultipartUpload", onObject},
		{"kms:GenerateDataKey", onBucketKey}, {"kms:Decrypt", onBucketKey}},
	"store.Get":      {{"s3:GetObject", onObject}, {"kms:Decrypt", onBucketKey}},
	"store.GetRange": {{"s3:GetObject", onObject}, {"kms:Decrypt", onBucketKey}},
	"store.Stat":     {{"s3:GetObject", onObject}},
	"store.Delete":   {{"s3:DeleteObject", onObject}},
	"store.List":     {{"s3:ListBucket", onBucket}}, // with s3:prefix
	// A read of a key that is not there: S3 answers 404 only to callers
	// allowed s3:ListBucket on the bucket, and 403 to the others, which
	// the store cannot tell from a real denial.
	"store.not found": {{"s3:ListBucket", onBucket}},

	// catalog.Catalog on the Glue Data Catalog. EnsureDatabase creates a
	// missing database (glue:CreateDatabase); the deployment creates the
	// databases itself, so only the look-up is asked for.
	"catalog.EnsureDatabase": {{"glue:GetDatabase", onCatalog}, {"glue:GetDatabase", onDatabase}},
	"catalog.GetTable":       glue("glue:GetTable"),
	"catalog.ListTables":     {{"glue:GetTables", onCatalog}, {"glue:GetTables", onDatabase}, {"glue:GetTables", onAllTables}},
	// PutTable of a new table creates it and reads back its version; of a
	// known version, checks it and updates.
	"catalog.PutTable create": append(glue("glue:CreateTable"), glue("glue:GetTable")...),
	"catalog.PutTable update": append(glue("glue:GetTable"), glue("glue:UpdateTable")...),

	// icecatalog.Backend on the Glue Data Catalog (gluepointer): a
	// table's pointer is read with GetTable, created (after the database
	// is looked up; the deployment creates the databases) with
	// CreateTable, and swapped by reading it again and UpdateTable.
	"iceberg.Get":    glue("glue:GetTable"),
	"iceberg.Create": append([]need{{"glue:GetDatabase", onCatalog}, {"glue:GetDatabase", onDatabase}}, glue("glue:CreateTable")...),
	"iceberg.Swap":   append(glue("glue:GetTable"), glue("glue:UpdateTable")...),

	// Secrets Manager: the value is decrypted with the secret's key, by
	// Secrets Manager on the caller's behalf.
	"secrets.GetSecretValue": {{"secretsmanager:GetSecretValue", onSecret}, {"kms:Decrypt", onSecretKey}},
}

// names are the resources of one call, by kind; an empty KMS key means the
// resource is not encrypted with one (no KMS request).
type names struct {
	object, bucket, bucketKey        string
	catalog, database, table, tables string
	secret, secretKey                string
	region                           string
	prefix                           *string // s3:prefix of a listing
}

// record logs the requests of call (a key of calls) on res; detail
// completes the call's description (a key, a table).
func (l *Log) record(call, detail string, res names) {
	needs, ok := calls[call]
	if !ok {
		panic("iamrec: no row for " + call + " in calls")
	}
	var rs []Request
	for _, n := range needs {
		r := Request{Action: n.action, Call: call + " " + detail}
		switch n.on {
		case onObject:
			r.Resource = res.object
		case onBucket:
			r.Resource = res.bucket
			if res.prefix != nil {
				r.Context = map[string]string{"s3:prefix": *res.prefix}
			}
		case onBucketKey:
			r.Resource = res.bucketKey
			r.Context = map[string]string{"kms:ViaService": "s3." + res.region + ".amazonaws.com"}
		case onCatalog:
			r.Resource = res.catalog
		case onDatabase:
			r.Resource = res.database
		case onTable:
			r.Resource = res.table
		case onAllTables:
			r.Resource = res.tables
		case onSecret:
			r.Resource = res.secret
		case onSecretKey:
			r.Resource = res.secretKey
			r.Context = map[string]string{"kms:ViaService": "secretsmanager." + res.region + ".amazonaws.com"}
		}
		if r.Resource == "" {
			if n.on == onBucketKey || n.on == onSecretKey {
				continue // not encrypted with a customer-managed key
			}
			panic(fmt.Sprintf("iamrec: %s needs a resource of kind %d that the wrapper did not name", call, n.on))
		}
		rs = append(rs, r)
	}
	l.add(rs...)
}
