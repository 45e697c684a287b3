package connector

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type nopSource struct{ settings map[string]any }

func (nopSource) Open(context.Context) error                       { return nil }
func (nopSource) Read(context.Context) ([]Record, Position, error) { return nil, nil, nil }
func (nopSource) Close() error                                     { return nil }

func TestRegistry(t *testing.T) {
	var r Registry
	var got map[string]any
	r.Register(&Kind{Name: "nop", Read: &SourceSpec{
		Fields: []Field{{Name: "n", Type: TypeInt, Default: 3}},
		New: func(env Env, s map[string]any) (Source, error) {
			got = s
			return nopSource{s}, nil
		},
	}})
	k, err := r.Lookup("nop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.NewSource(Env{}, map[string]any{}); err != nil || got["n"] != 3 {
		t.Fatalf("NewSource: %v, settings %v", err, got)
	}
	_, err = k.NewSource(Env{}, map[string]any{"n": "x", "m": 1})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("bad settings: %v", err)
	}
	if _, err := k.NewSink(Env{}, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("NewSink of a read-only kind: %v", err)
	}
	if _, err := k.NewCaller(Env{}, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("NewCaller of a read-only kind: %v", err)
	}
	if _, err := r.Lookup("nope"); !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), `"nop"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	if n := r.Names(); len(n) != 1 || n[0] != "nop" {
		t.Fatalf("Names: %v", n)
	}
}

func TestRegisterRefusesMistakes(t *testing.T) {
	newSrc := func(Env, map[string]any) (Source, error) { return nopSource{}, nil }
	cases := map[string]*Kind{
		"no name":            {Read: &SourceSpec{New: newSrc}},
		"no role":            {Name: "x"},
		"no constructor":     {Name: "x", Read: &SourceSpec{}},
		"registered twice":   {Name: "dup", Read: &SourceSpec{New: newSrc}},
		"nil kind":           nil,
		"sink without New":   {Name: "y", Write: &SinkSpec{}},
		"caller without New": {Name: "z", Call: &CallerSpec{}},
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			var r Registry
			r.Register(&Kind{Name: "dup", Read: &SourceSpec{New: newSrc}})
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			r.Register(k)
		})
	}
}

func TestPositionJSON(t *testing.T) {
	type state struct {
		Pos Position `json:"pos"`
	}
	cases := []struct {
		name string
		in   Position
		json string
	}{
		{"nil", nil, `{"pos":null}`},
		{"object", Position(`{"offset":12}`), `{"pos":{"offset":12}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(state{tc.in})
			if err != nil || string(b) != tc.json {
				t.Fatalf("marshal: %s, %v", b, err)
			}
			var back state
			if err := json.Unmarshal(b, &back); err != nil || back.Pos.String() != tc.in.String() {
				t.Fatalf("unmarshal: %v, %v", back.Pos, err)
			}
		})
	}
	if _, err := json.Marshal(state{Position("{nope")}); err == nil {
		t.Fatal("a Position that is not JSON was marshalled")
	}
}
