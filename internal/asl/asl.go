// Package asl is a local interpreter for Amazon States Language (JSONPath
// mode): it loads the same state machine definition that Step Functions
// runs, checks it the way Step Functions would, and runs it in-process with
// Go functions standing in for the Lambda functions of its Task states.
//
// It is a pure interpreter: it keeps executions nowhere but hands every
// history event to a Recorder (internal/execstore keeps them in the lake).
// JSON objects keep their members in document order, as in Step Functions.
//
// Imported by the pipeline's local runner (internal/localrun), the
// execution store, the served Step Functions API (internal/sfnapi) and
// cmd/lake. What it supports and where it differs from AWS is listed in
// docs/asl.md.
package asl

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Handler runs one Task state's work, as a Lambda function would: it gets
// the state's effective input and returns its result. A returned error
// becomes the task's error: its Error name is the Go type name of err (as
// aws-lambda-go reports errorType), see ErrorName.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Options configure Load.
type Options struct {
	// Name is the state machine's name, used in ARNs and the context
	// object. Default "local".
	Name string
	// Substitutions replace ${Name} placeholders in the definition, as
	// SAM's DefinitionSubstitutions do. Placeholders with no substitution
	// and substitutions that are not used are load errors.
	Substitutions map[string]string
	// Handlers maps Lambda function names (or full Resource ARNs) to the
	// Go code that runs them. A Task whose function has no handler is a
	// load error.
	Handlers map[string]Handler
	// Clock is the time source for timestamps, Wait states, retry
	// intervals and timeouts. Default RealClock.
	Clock Clock
	// Rand drives retry jitter, States.UUID, States.MathRandom and
	// generated ids. Default: a randomly seeded source.
	Rand *rand.Rand
}

// Machine is a loaded, validated state machine, safe for concurrent runs.
type Machine struct {
	name  string
	arn   string
	def   *stateMachine
	clock Clock

	randMu sync.Mutex
	rand   *rand.Rand
}

// Name is the state machine's name.
func (m *Machine) Name() string { return m.name }

// ARN is the state machine's local ARN.
func (m *Machine) ARN() string { return m.arn }

// region and account are what local ARNs carry.
const (
	localRegion  = "local"
	localAccount = "000000000000"
)

// LoadError is returned by Load for a definition that cannot be run: not
// JSON, rejected by the checks Step Functions makes, or using a feature this
// interpreter does not implement. Problems lists every problem found.
type LoadError struct {
	Problems []string
}

func (e *LoadError) Error() string {
	if len(e.Problems) == 1 {
		return "asl: invalid definition: " + e.Problems[0]
	}
	s := fmt.Sprintf("asl: invalid definition: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  - " + p
	}
	return s
}

func (m *Machine) randFloat() float64 {
	m.randMu.Lock()
	defer m.randMu.Unlock()
	return m.rand.Float64()
}

func (m *Machine) randInt(n int64) int64 {
	m.randMu.Lock()
	defer m.randMu.Unlock()
	return m.rand.Int64N(n)
}

// uuid is a version 4 UUID drawn from the machine's random source, so
// seeded runs are reproducible.
func (m *Machine) uuid() string {
	m.randMu.Lock()
	hi, lo := m.rand.Uint64(), m.rand.Uint64()
	m.randMu.Unlock()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:], b[10:])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}
