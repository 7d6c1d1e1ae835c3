package beaker

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"
)

// vectors.json holds cookies written by Beaker's CookieSession
// (testdata/gen_vectors.py) for every crypto_type and serializer, so Go is
// checked against Beaker's own output even where Python is not installed.
type vectorFile struct {
	Beaker  string `json:"beaker"`
	Vectors []struct {
		Name    string         `json:"name"`
		Options map[string]any `json:"options"`
		Cookie  string         `json:"cookie"`
		Session typed          `json:"session"`
	} `json:"vectors"`
}

// configOf is the Config that matches Beaker's settings.
func configOf(t *testing.T, options map[string]any) Config {
	t.Helper()
	var cfg Config
	for k, v := range options {
		switch k {
		case "validate_key":
			cfg.ValidateKey = v.(string)
		case "encrypt_key":
			cfg.EncryptKey = v.(string)
		case "crypto_type":
			cfg.CryptoType = CryptoType(v.(string))
		case "data_serializer":
			cfg.Serializer = Serializer(v.(string))
		case "encrypt_nonce_bits":
			cfg.EncryptNonceBits = int(v.(float64))
		default:
			t.Fatalf("no Config field for Beaker's %s", k)
		}
	}
	return cfg
}

func TestBeakerVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) != 10 {
		t.Fatalf("%d vectors, want 10", len(file.Vectors))
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			s, err := mustNew(t, configOf(t, v.Options)).Decode(v.Cookie)
			if err != nil {
				t.Fatalf("Decode(Beaker %s's cookie): %v", file.Beaker, err)
			}
			dict, err := fromTyped(v.Session)
			if err != nil {
				t.Fatal(err)
			}
			want := dict.(map[string]any)
			if got := s.Values; !reflect.DeepEqual(got, appValues(want)) {
				t.Errorf("Values\n %#v\nBeaker wrote\n %#v", got, appValues(want))
			}
			if s.ID != want[keyID] || s.Path != want[keyPath] || s.Domain != "" {
				t.Errorf("ID %q, Path %q, Domain %q; Beaker wrote %v", s.ID, s.Path, s.Domain, want)
			}
			if d := unixFloat(s.Created) - want[keyCreated].(float64); math.Abs(d) > 1e-6 {
				t.Errorf("Created %v, Beaker wrote %v", unixFloat(s.Created), want[keyCreated])
			}
		})
	}
}
