package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
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
