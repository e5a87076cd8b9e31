package pipeline

import (
	"fmt"
	"strings"
)

// ObjectCreatedEvent is the EventBridge event S3 sends for a new object
// ("detail-type": "Object Created", "source": "aws.s3"), trimmed to the
// fields the pipeline reads. The local runner builds the same shape.
type ObjectCreatedEvent struct {
	Version    string        `json:"version,omitempty"`
	ID         string        `json:"id,omitempty"`
	DetailType string        `json:"detail-type"`
	Source     string        `json:"source"`
	Account    string        `json:"account,omitempty"`
	Time       string        `json:"time,omitempty"`
	Region     string        `json:"region,omitempty"`
	Resources  []string      `json:"resources,omitempty"`
	Detail     ObjectDetails `json:"detail"`
}

// ObjectDetails is the event's detail.
type ObjectDetails struct {
	Version string `json:"version,omitempty"`
	Bucket  struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		Sequencer string `json:"sequencer,omitempty"`
	} `json:"object"`
	RequestID string `json:"request-id,omitempty"`
	Requester string `json:"requester,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// NewObjectCreatedEvent is the event the local runner starts an execution
// with for an object at key in the lake.
func NewObjectCreatedEvent(bucket, key, etag string, size int64, at string) ObjectCreatedEvent {
	e := ObjectCreatedEvent{Version: "0", DetailType: "Object Created", Source: "aws.s3", Time: at, Region: "local"}
	e.Detail.Version = "0"
	e.Detail.Bucket.Name = bucket
	e.Detail.Object.Key = key
	e.Detail.Object.ETag = etag
	e.Detail.Object.Size = size
	e.Detail.Reason = "PutObject"
	return e
}

// lakeKey maps an event's bucket and key to a key in the lake: the key
// without the lake's prefix. S3 URL-encodes keys in event notifications
// sent to Lambda directly, but not in EventBridge events; a key that
// still looks encoded is left alone (object keys may contain '%').
func (c *Config) lakeKey(bucket, key string) (string, error) {
	if c.Bucket != "" && bucket != c.Bucket {
		return "", &BadInputError{Task: "validate", Reason: fmt.Sprintf("event for bucket %q, but the lake is in %q", bucket, c.Bucket)}
	}
	if key == "" {
		return "", &BadInputError{Task: "validate", Reason: "no object key"}
	}
	if c.Prefix != "" {
		p := strings.TrimSuffix(c.Prefix, "/") + "/"
		if !strings.HasPrefix(key, p) {
			return "", &BadInputError{Task: "validate", Reason: fmt.Sprintf("key %q is outside the lake prefix %q", key, p)}
		}
		key = strings.TrimPrefix(key, p)
	}
	return key, nil
}
