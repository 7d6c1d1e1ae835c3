package vuser

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Operations a virtual user chooses among on a device that is logged in.
// A device that is logged out always logs in ("login"), whatever the mix.
const (
	OpHome         = "home"          // read: GET the home page, which names the user
	OpAuth         = "auth"          // read: GET the forward-auth endpoint
	OpSessions     = "sessions"      // read: GET "your sessions", which must list exactly the live sessions
	OpRevoke       = "revoke"        // write: end another device's session by its handle
	OpRevokeOthers = "revoke-others" // write: end every other session of the user
	OpLogout       = "logout"        // write: end this device's session
	OpLogoutAll    = "logout-all"    // write: end every session of the user
	OpLogin        = "login"         // write: log a logged-out device in
	OpResync       = "resync"        // write: log in and log out everywhere, after a write whose outcome is unknown
)

// Mix holds the weight of each operation chosen on a live device. It is a
// flag.Value: "home=30,auth=50,...".
type Mix struct {
	ops     []string
	weights []float64
}

// DefaultMix is read-heavy, as the traffic of a session service is (a
// forward-auth check for every request of the application behind it): 0.5%
// of the operations on a live device are writes that end sessions. Every
// session ended is logged in again later, and each login costs an argon2id
// hash (64 MiB, about 0.1 s of CPU), so the share of ending writes sets
// the share of logins, and with it how much of the CPU goes to hashing.
func DefaultMix() Mix {
	return Mix{
		ops:     []string{OpHome, OpAuth, OpSessions, OpRevoke, OpRevokeOthers, OpLogout, OpLogoutAll},
		weights: []float64{25, 55, 19.5, 0.2, 0.05, 0.2, 0.05},
	}
}

// String formats the mix as the flag takes it.
func (m *Mix) String() string {
	var parts []string
	for i, op := range m.ops {
		parts = append(parts, op+"="+strconv.FormatFloat(m.weights[i], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// Set changes the weights named in s; operations it does not name keep
// theirs.
func (m *Mix) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%q: want name=weight", part)
		}
		i := m.index(name)
		if i < 0 {
			return fmt.Errorf("unknown operation %q, want one of %s", name, m.Names())
		}
		f, err := strconv.ParseFloat(w, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("%q: the weight must be a number >= 0", part)
		}
		m.weights[i] = f
	}
	return nil
}

func (m *Mix) index(name string) int {
	for i, op := range m.ops {
		if op == name {
			return i
		}
	}
	return -1
}

// Names lists the operations of the mix.
func (m *Mix) Names() string { return strings.Join(m.ops, ", ") }

// Total is the sum of the weights.
func (m *Mix) Total() float64 {
	t := 0.0
	for _, w := range m.weights {
		t += w
	}
	return t
}

// pick chooses an operation with probability proportional to its weight.
func (m *Mix) pick(r *rand.Rand) string {
	x := r.Float64() * m.Total()
	for i, w := range m.weights {
		if x < w {
			return m.ops[i]
		}
		x -= w
	}
	for i := len(m.ops) - 1; i > 0; i-- { // rounding: the last op that can be chosen
		if m.weights[i] > 0 {
			return m.ops[i]
		}
	}
	return m.ops[0]
}
