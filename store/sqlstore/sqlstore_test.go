package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

var testDialect = Dialect{
	Package:     "teststore",
	Database:    "TestDB",
	MaxTableLen: 8,
	Schema:      "CREATE TABLE IF NOT EXISTS `{{table}}` (k INT); CREATE INDEX {{table}}_k ON `{{table}}` (k)",
}

func TestValidTable(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"sessions", true},
		{"session_", true},
		{"_s1", true},
		{"user", true}, // reserved, but always quoted
		{"", false},
		{"sessions1", false}, // longer than MaxTableLen
		{"1s", false},
		{"Sessions", false},
		{"a-b", false},
		{"a b", false},
		{"a.b", false},
		{`a"b`, false},
		{"a`b", false},
		{"a'b", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := testDialect.ValidTable(tt.name); got != tt.want {
			t.Errorf("ValidTable(%q) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestSchemaFor(t *testing.T) {
	tests := []struct {
		table, want string
	}{
		{"", "CREATE TABLE IF NOT EXISTS `sesame_sessions` (k INT); CREATE INDEX sesame_sessions_k ON `sesame_sessions` (k)"},
		{"s", "CREATE TABLE IF NOT EXISTS `s` (k INT); CREATE INDEX s_k ON `s` (k)"},
	}
	for _, tt := range tests {
		if got, err := testDialect.SchemaFor(tt.table); err != nil || got != tt.want {
			t.Errorf("SchemaFor(%q) = %q, %v; want %q", tt.table, got, err, tt.want)
		}
	}
	_, err := testDialect.SchemaFor("x`; DROP TABLE y")
	if err == nil || !strings.HasPrefix(err.Error(), "teststore: table name") {
		t.Errorf("SchemaFor of a name that is not an identifier: %v; want the store's error", err)
	}
}

// TestMigrate checks what Migrate hands the function that runs the
// schema, and what it makes of that function's error.
func TestMigrate(t *testing.T) {
	var gotTable, gotSchema string
	run := func(_ context.Context, table, schema string) error {
		gotTable, gotSchema = table, schema
		return nil
	}
	if err := testDialect.Migrate(t.Context(), "", run); err != nil {
		t.Fatal(err)
	}
	if want, _ := testDialect.SchemaFor(""); gotTable != DefaultTable || gotSchema != want {
		t.Errorf("Migrate of \"\" ran %q for table %q; want %q for %q", gotSchema, gotTable, want, DefaultTable)
	}

	gotTable = ""
	if err := testDialect.Migrate(t.Context(), "Bad Name", run); err == nil || gotTable != "" {
		t.Errorf("Migrate of a bad name: %v, and ran the schema for %q; want an error before running anything", err, gotTable)
	}

	refused := errors.New("permission denied")
	err := testDialect.Migrate(t.Context(), "s", func(context.Context, string, string) error { return refused })
	if !errors.Is(err, refused) || err.Error() != "teststore: migrate TestDB table s: permission denied" {
		t.Errorf("Migrate whose schema fails: %v; want the error wrapped with the store, database and table", err)
	}
}

// TestNewRefusesBadTable checks that New refuses a table name before it
// asks for the statements of the table.
func TestNewRefusesBadTable(t *testing.T) {
	asked := false
	s, err := New(testDialect, Config{Table: `x"; DROP TABLE y`}, func(string) Table {
		asked = true
		return nil
	})
	if err == nil || s != nil || asked {
		t.Fatalf("New with a bad table name = %v, %v (statements asked for: %v); want an error and nothing asked", s, err, asked)
	}
}

// moveTable is a Table whose Move finds the new key taken the first taken
// times, and whose DeleteExpired finds the row there expired or not. Its
// other methods are not called.
type moveTable struct {
	Table          // nil
	taken          int
	expired        bool
	moves, deletes int
}

func (m *moveTable) Move(context.Context, string, uint64, string, []byte, time.Time, []byte) (uint64, error) {
	m.moves++
	if m.moves <= m.taken {
		return 0, ErrKeyTaken
	}
	return 7, nil
}

func (m *moveTable) DeleteExpired(context.Context, string) (bool, error) {
	m.deletes++
	return m.expired, nil
}

// TestRenewOntoTakenKey checks what Renew does when Move finds a row
// under the new key: it deletes an expired one and moves again, and
// reports a live one, or one that keeps coming back, as a conflict.
func TestRenewOntoTakenKey(t *testing.T) {
	oldKey, newKey := strings.Repeat("a", 43), strings.Repeat("b", 43)
	tests := []struct {
		name           string
		table          moveTable
		to             string
		want           error
		moves, deletes int
	}{
		{"free", moveTable{}, newKey, nil, 1, 0},
		{"live", moveTable{taken: 1}, newKey, sesame.ErrConflict, 1, 1},
		{"expired", moveTable{taken: 1, expired: true}, newKey, nil, 2, 1},
		{"expired, again and again", moveTable{taken: maxMoves, expired: true}, newKey, sesame.ErrConflict, maxMoves, maxMoves - 1},
		{"its own key", moveTable{}, oldKey, sesame.ErrConflict, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(testDialect, Config{SweepInterval: -1}, func(string) Table { return &tt.table })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Renew(t.Context(), oldKey, 3, tt.to, []byte("x"), sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
			if tt.want == nil && (err != nil || v != 7) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Renew = %d, %v; want the moved row's version or an error wrapping %v", v, err, tt.want)
			}
			if tt.table.moves != tt.moves || tt.table.deletes != tt.deletes {
				t.Errorf("Renew made %d moves and %d deletes; want %d and %d", tt.table.moves, tt.table.deletes, tt.moves, tt.deletes)
			}
		})
	}
}
