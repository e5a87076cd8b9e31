package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxJSONBytes bounds how much of a JSON record GetJSON reads.
const MaxJSONBytes = 64 << 20

// PutJSON stores v at key as JSON on one line ending in a newline: the
// JSON Lines form that Athena's JSON SerDe (the meta.* tables) reads. With
// opts the write is conditional, as for Put.
func PutJSON(ctx context.Context, st Store, key string, v any, opts *PutOptions) (ObjectInfo, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("store: encode %q: %w", key, err)
	}
	o := PutOptions{ContentType: "application/json"}
	if opts != nil {
		o = *opts
		o.ContentType = "application/json"
	}
	info, err := st.Put(ctx, key, bytes.NewReader(append(b, '\n')), &o)
	if err != nil {
		return ObjectInfo{}, Wrap(err, "store: write %q", key)
	}
	return info, nil
}

// GetJSON decodes the JSON record at key (as PutJSON writes it) into v and
// returns the object's info. It reports found=false, with no error, when
// there is no object at key. A store failure comes back as Wrap returns
// it; a record that does not decode is a *RecordError.
func GetJSON(ctx context.Context, st Store, key string, v any) (info ObjectInfo, found bool, err error) {
	rc, info, err := st.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return ObjectInfo{}, false, nil
	}
	if err != nil {
		return ObjectInfo{}, false, Wrap(err, "store: read %q", key)
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, MaxJSONBytes)).Decode(v); err != nil {
		var su *StoreUnavailableError
		if errors.As(err, &su) {
			return ObjectInfo{}, false, su
		}
		return ObjectInfo{}, false, &RecordError{Key: key, Err: err}
	}
	return info, true, nil
}

// RecordError means a JSON record in the lake does not decode: it was
// written by something else, or damaged. Not retryable.
type RecordError struct {
	Key string
	Err error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("store: record %q does not decode: %v", e.Key, e.Err)
}
func (e *RecordError) Unwrap() error { return e.Err }

// Wrap returns err's *StoreUnavailableError itself, unwrapped, so that the
// state machine sees its type name and retries; any other error comes back
// wrapped with the context that format and args give.
func Wrap(err error, format string, args ...any) error {
	var su *StoreUnavailableError
	if errors.As(err, &su) {
		return su
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
