// Package iamrec records what the lake's code asks of AWS as IAM requests:
// each store.Store, catalog.Catalog and Secrets Manager call made through
// its wrappers is logged as the actions AWS authorizes for it, each on the
// resource ARN it names, with the condition keys the request carries
// (s3:GetObject on arn:aws:s3:::BUCKET/KEY, s3:ListBucket on the bucket
// with s3:prefix, glue:UpdateTable on a table ARN, kms:Decrypt on the
// bucket's key with kms:ViaService, ...). The IAM conformance test
// (internal/deploy) runs the pipeline's tasks through these wrappers and
// checks every request against the function's policy in template.yaml.
//
// Which actions each call needs is in one table, actions.go; the wrappers
// only fill in the resources. A new Store or Catalog method (a server-side
// copy, an Iceberg commit) is a new row there and a method here.
//
// Imported by tests only. Pure Go.
package iamrec

import (
	"slices"
	"sync"
)

// Request is one IAM authorization a call needs.
type Request struct {
	// Action is the IAM action, e.g. "s3:GetObject".
	Action string `json:"action"`
	// Resource is the ARN the action is authorized on.
	Resource string `json:"resource"`
	// Context are the condition keys the request carries and their
	// values (s3:prefix for a listing, kms:ViaService for a KMS request S3
	// makes on the caller's behalf).
	Context map[string]string `json:"context,omitempty"`
	// Call is the call that made it, for messages:
	// "store.Get bronze/landing/orders/x.parquet".
	Call string `json:"call"`
}

// Log collects requests; it is safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	reqs []Request
}

func (l *Log) add(rs ...Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, rs...)
}

// Requests returns the requests logged so far, in call order.
func (l *Log) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// Account is where the resources are: the partition, Region and account
// that ARNs name.
type Account struct {
	Partition string // "aws"
	Region    string
	ID        string // the 12-digit account id
}
