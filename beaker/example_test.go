package beaker_test

import (
	"fmt"
	"time"

	"github.com/sesame-go/sesame/beaker"
)

// A Go handler reads the session a Python application wrote, changes it
// and writes it back for Python to read.
func Example() {
	codec, err := beaker.New(beaker.Config{
		ValidateKey: "the validate_key of the Python app",
		EncryptKey:  "the encrypt_key of the Python app",
		CryptoType:  beaker.CryptoCryptography,
		Serializer:  beaker.JSON,
		Timeout:     time.Hour,
	})
	if err != nil {
		panic(err)
	}
	// Here the cookie comes from Go; in a handler it is the value of
	// r.Cookie("beaker.session.id"), written by either side.
	cookie, err := codec.Encode(&beaker.Session{Values: map[string]any{"user": "alice", "visits": 1}})
	if err != nil {
		panic(err)
	}

	s, err := codec.Decode(cookie)
	if err != nil {
		panic(err) // in a handler: start a new session
	}
	s.Values["visits"] = s.Values["visits"].(int64) + 1
	if _, err := codec.Encode(s); err != nil {
		panic(err)
	}
	fmt.Println(s.Values["user"], s.Values["visits"], len(s.ID))
	// Output: alice 2 32
}
