package seal_test

import (
	"fmt"
	"log"
	"os"

	"github.com/sesame-go/sesame/seal"
)

// Generate a key, seal a session record into a cookie value bound to the
// cookie's name, and open it again.
func Example() {
	key, err := seal.GenerateKey() // keep it secret, e.g. in SESSION_KEYS
	if err != nil {
		log.Fatal(err)
	}
	ring, err := seal.ParseKeyRing(key)
	if err != nil {
		log.Fatal(err)
	}

	token, err := ring.Seal("__Host-session", []byte("user=42"))
	if err != nil {
		log.Fatal(err)
	}
	record, rotated, err := ring.Open("__Host-session", token)
	fmt.Printf("%s %v %v\n", record, rotated, err)

	// The same value under another cookie name does not open.
	_, _, err = ring.Open("__Host-other", token)
	fmt.Println(err)
	// Output:
	// user=42 false <nil>
	// seal: invalid token
}

// Load the key ring from an environment variable or a file: one key per line
// or comma-separated, primary first, '#' starts a comment.
func ExampleParseKeyRing() {
	os.Setenv("SESSION_KEYS", `
# primary since 2025-06-01 (example keys: never use a published key)
2mlx6vNG4ssy9ALs3oi/2o1ZyFtRXldYN1pbDdvB9r8=
# previous primary, retire after 2025-07-01
M8P5iG1lH2D7v6M5kq4a5w3Q2Zq8mZb7yH0cYw1tA9E=
`)
	ring, err := seal.ParseKeyRing(os.Getenv("SESSION_KEYS")) // or os.ReadFile's contents
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ring.MaxTokenLen())
	// Output: 4096
}

// Rotate keys without logging anyone out: add the new key as primary, keep
// the old one for opening, re-seal what opens as rotated, and retire the old
// key once no token sealed under it can still be alive.
func Example_rotation() {
	oldKey, _ := seal.GenerateKey()
	newKey, _ := seal.GenerateKey()

	before, _ := seal.ParseKeyRing(oldKey)
	token, _ := before.Seal("__Host-session", []byte("user=42"))

	during, _ := seal.ParseKeyRing(newKey + "," + oldKey)
	record, rotated, err := during.Open("__Host-session", token)
	fmt.Printf("%s rotated=%v %v\n", record, rotated, err)
	if rotated {
		token, _ = during.Seal("__Host-session", record)
	}

	after, _ := seal.ParseKeyRing(newKey)
	record, rotated, err = after.Open("__Host-session", token)
	fmt.Printf("%s rotated=%v %v\n", record, rotated, err)
	// Output:
	// user=42 rotated=true <nil>
	// user=42 rotated=false <nil>
}
