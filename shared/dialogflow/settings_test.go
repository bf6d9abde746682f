package dialogflow_test

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/dialogflow"
)

func TestHost(t *testing.T) {
	for loc, want := range map[string]string{
		"":             "dialogflow.googleapis.com",
		"global":       "dialogflow.googleapis.com",
		"europe-west1": "europe-west1-dialogflow.googleapis.com",
		"us-central1":  "us-central1-dialogflow.googleapis.com",
		"asia-south1":  "asia-south1-dialogflow.googleapis.com",
	} {
		if got := dialogflow.Host(loc); got != want {
			t.Errorf("Host(%q) = %q, want %q", loc, got, want)
		}
	}
}

var sessionForm = regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)

func TestSessionID(t *testing.T) {
	for _, id := range []string{"cv0123456789abcdefghjkmnpqrst", "a", "A-b_9", strings.Repeat("x", 36)} {
		if got := dialogflow.SessionID(id); got != id {
			t.Errorf("SessionID(%q) = %q, want the id itself", id, got)
		}
	}
	seen := map[string]string{}
	for _, id := range []string{"", strings.Repeat("x", 37), strings.Repeat("x", 38), "a/b", "a b", "a.b", "é", "cv#1", "../x"} {
		got := dialogflow.SessionID(id)
		if !sessionForm.MatchString(got) || len(got) != 36 {
			t.Errorf("SessionID(%q) = %q: not 36 characters of [A-Za-z0-9_-]", id, got)
		}
		if again := dialogflow.SessionID(id); again != got {
			t.Errorf("SessionID(%q) not deterministic: %q, %q", id, got, again)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("SessionID(%q) = SessionID(%q) = %q", id, other, got)
		}
		seen[got] = id
	}
}

func TestNormalize(t *testing.T) {
	got := dialogflow.Settings{Edition: " CX ", Project: " my-project ", Agent: " a ", Environment: " e ", Language: " "}.Normalize()
	want := dialogflow.Settings{Edition: "cx", Project: "my-project", Location: "global", Agent: "a", Environment: "e", Language: "en"}
	if got != want {
		t.Errorf("Normalize = %+v, want %+v", got, want)
	}
	got = dialogflow.Settings{Edition: "es", Location: "europe-west1", Language: "de"}.Normalize()
	if got.Location != "europe-west1" || got.Language != "de" {
		t.Errorf("Normalize changed a location or language given: %+v", got)
	}
}

const agentID = "2b1e2a4c-9f0e-4c2b-8a53-0f6a2d1e7c44"

func TestProblems(t *testing.T) {
	es := dialogflow.Settings{Edition: "es", Project: "my-project-1", Location: "global", Language: "en"}
	cx := dialogflow.Settings{Edition: "cx", Project: "my-project-1", Location: "europe-west1", Agent: agentID, Language: "pt-BR"}
	with := func(s dialogflow.Settings, f func(*dialogflow.Settings)) dialogflow.Settings { f(&s); return s }
	cases := []struct {
		name string
		s    dialogflow.Settings
		want []string // the fields with a problem
	}{
		{"es valid", es, nil},
		{"cx valid", cx, nil},
		{"es region and environment", with(es, func(s *dialogflow.Settings) { s.Location, s.Environment = "us-central1", "production_2" }), nil},
		{"cx environment", with(cx, func(s *dialogflow.Settings) { s.Environment = agentID }), nil},
		{"cx global", with(cx, func(s *dialogflow.Settings) { s.Location = "global" }), nil},
		{"zero", dialogflow.Settings{}, []string{"edition", "language", "location", "project"}},
		{"edition", with(es, func(s *dialogflow.Settings) { s.Edition = "v2" }), []string{"edition"}},
		{"edition upper case", with(es, func(s *dialogflow.Settings) { s.Edition = "ES" }), []string{"edition"}},
		{"project short", with(es, func(s *dialogflow.Settings) { s.Project = "abcde" }), []string{"project"}},
		{"project 6", with(es, func(s *dialogflow.Settings) { s.Project = "abcdef" }), nil},
		{"project 30", with(es, func(s *dialogflow.Settings) { s.Project = "a" + strings.Repeat("b", 29) }), nil},
		{"project 31", with(es, func(s *dialogflow.Settings) { s.Project = "a" + strings.Repeat("b", 30) }), []string{"project"}},
		{"project digit first", with(es, func(s *dialogflow.Settings) { s.Project = "1project" }), []string{"project"}},
		{"project hyphen last", with(es, func(s *dialogflow.Settings) { s.Project = "project-" }), []string{"project"}},
		{"project upper case", with(es, func(s *dialogflow.Settings) { s.Project = "My-project" }), []string{"project"}},
		{"project path", with(es, func(s *dialogflow.Settings) { s.Project = "proj/../x" }), []string{"project"}},
		{"location", with(es, func(s *dialogflow.Settings) { s.Location = "europe" }), []string{"location"}},
		{"location path", with(es, func(s *dialogflow.Settings) { s.Location = "europe-west1/x" }), []string{"location"}},
		{"location host", with(es, func(s *dialogflow.Settings) { s.Location = "evil.com#-a1" }), []string{"location"}},
		{"cx without agent", with(cx, func(s *dialogflow.Settings) { s.Agent = "" }), []string{"agent"}},
		{"cx agent not uuid", with(cx, func(s *dialogflow.Settings) { s.Agent = "my-agent" }), []string{"agent"}},
		{"cx agent upper case", with(cx, func(s *dialogflow.Settings) { s.Agent = strings.ToUpper(agentID) }), []string{"agent"}},
		{"es with agent", with(es, func(s *dialogflow.Settings) { s.Agent = agentID }), []string{"agent"}},
		{"cx environment not uuid", with(cx, func(s *dialogflow.Settings) { s.Environment = "production" }), []string{"environment"}},
		{"es environment path", with(es, func(s *dialogflow.Settings) { s.Environment = "a/b" }), []string{"environment"}},
		{"es environment draft", with(es, func(s *dialogflow.Settings) { s.Environment = "-" }), []string{"environment"}},
		{"language", with(es, func(s *dialogflow.Settings) { s.Language = "english!" }), []string{"language"}},
		{"language region", with(es, func(s *dialogflow.Settings) { s.Language = "zh-HK" }), nil},
		{"language empty", with(es, func(s *dialogflow.Settings) { s.Language = "" }), []string{"language"}},
	}
	for _, c := range cases {
		p := c.s.Problems()
		got := slices.Sorted(maps.Keys(p))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: problems %v, want fields %v", c.name, p, c.want)
		}
		for f, msg := range p {
			if msg == "" {
				t.Errorf("%s: no message for %s", c.name, f)
			}
		}
	}
}
