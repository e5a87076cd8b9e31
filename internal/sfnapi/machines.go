package sfnapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/store"
)

// epoch is a timestamp as the AWS JSON protocols write it: seconds since
// the Unix epoch, with milliseconds.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)), nil
}

func epochPtr(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	e := epoch(*t)
	return &e
}

type createStateMachineInput struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	RoleARN    string `json:"roleArn"`
	Type       string `json:"type"`
}

func (s *Server) createStateMachine(ctx context.Context, body []byte) (any, error) {
	var in createStateMachineInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !asl.ValidName(in.Name) {
		return nil, badRequest("InvalidName", "Invalid Name: '%s' (1 to 80 letters, digits, - and _)", in.Name)
	}
	switch in.Type {
	case "":
		in.Type = "STANDARD"
	case "STANDARD", "EXPRESS":
	default:
		return nil, badRequest("ValidationException", "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]", in.Type)
	}
	if in.RoleARN == "" {
		return nil, badRequest("InvalidArn", "Invalid Arn: 'Role ARN is required'")
	}
	m, err := s.opts.Load(in.Name, []byte(in.Definition))
	if err != nil {
		return nil, badRequest("InvalidDefinition", "Invalid State Machine Definition: '%v'", err)
	}
	sm := &machine{m: m, Name: in.Name, ARN: m.ARN(), Definition: in.Definition, RoleARN: in.RoleARN, Type: in.Type, Created: s.opts.Now().UTC()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.machines[in.Name]; old != nil {
		if old.builtin || old.Definition != sm.Definition || old.RoleARN != sm.RoleARN || old.Type != sm.Type {
			return nil, badRequest("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", old.ARN)
		}
		sm = old // the same request again: its answer again
	} else {
		b, err := json.Marshal(sm)
		if err != nil {
			return nil, err
		}
		if _, err := s.opts.Lake.Put(ctx, MachinesPrefix+in.Name+".json", bytes.NewReader(append(b, '\n')), &store.PutOptions{ContentType: "application/json"}); err != nil {
			return nil, fmt.Errorf("sfnapi: storing state machine %s: %w", in.Name, err)
		}
		s.machines[in.Name] = sm
	}
	return map[string]any{"stateMachineArn": sm.ARN, "creationDate": epoch(sm.Created)}, nil
}

// loadMachines loads the state machines kept in the lake.
func (s *Server) loadMachines(ctx context.Context) error {
	for info, err := range s.opts.Lake.List(ctx, MachinesPrefix) {
		if err != nil {
			return fmt.Errorf("sfnapi: listing state machines: %w", err)
		}
		rc, _, err := s.opts.Lake.Get(ctx, info.Key)
		if err != nil {
			return fmt.Errorf("sfnapi: reading %s: %w", info.Key, err)
		}
		var sm machine
		err = json.NewDecoder(rc).Decode(&sm)
		rc.Close()
		if err != nil {
			return fmt.Errorf("sfnapi: decoding %s: %w", info.Key, err)
		}
		if s.machines[sm.Name] != nil {
			continue
		}
		if sm.m, err = s.opts.Load(sm.Name, []byte(sm.Definition)); err != nil {
			fmt.Fprintf(s.opts.Log, "sfnapi: state machine %s no longer loads, not served: %v\n", sm.Name, err)
			continue
		}
		s.machines[sm.Name] = &sm
	}
	return nil
}

type listInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

func (s *Server) listStateMachines(_ context.Context, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	all := make([]*machine, 0, len(s.machines))
	for _, sm := range s.machines {
		all = append(all, sm)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b *machine) int { return strings.Compare(a.Name, b.Name) })
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, len(items))
	for i, sm := range items {
		list[i] = map[string]any{"stateMachineArn": sm.ARN, "name": sm.Name, "type": sm.Type, "creationDate": epoch(sm.Created)}
	}
	return withToken(map[string]any{"stateMachines": list}, next), nil
}

func (s *Server) describeStateMachine(_ context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineARN string `json:"stateMachineArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sm, err := s.machine(in.StateMachineARN)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"stateMachineArn": sm.ARN, "name": sm.Name, "status": "ACTIVE", "definition": sm.Definition,
		"roleArn": sm.RoleARN, "type": sm.Type, "creationDate": epoch(sm.Created),
		"loggingConfiguration": map[string]any{"level": "OFF", "includeExecutionData": false},
	}, nil
}

// machine finds a state machine by ARN.
func (s *Server) machine(arn string) (*machine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sm := range s.machines {
		if sm.ARN == arn {
			return sm, nil
		}
	}
	return nil, badRequest("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
}

// page returns the page of items that token (from an earlier page) starts
// and the token of the next page ("" when this one is the last).
func page[T any](items []T, maxResults int, token string) ([]T, string, error) {
	if maxResults <= 0 || maxResults > 1000 {
		maxResults = 100
	}
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, "", badRequest("InvalidToken", "Invalid Token: '%s'", token)
		}
		start = n
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

func withToken(out map[string]any, next string) map[string]any {
	if next != "" {
		out["nextToken"] = next
	}
	return out
}
