// Package beaker reads and writes the cookie sessions of Beaker, the
// session library of Pylons, Pyramid (pyramid_beaker), Bottle and
// TurboGears applications (session.type = cookie), so that a Go service
// and a Python application behind one domain share a session, or an
// application moves from one to the other without logging anyone out.
//
// A Codec is configured with the Python side's settings (validate_key,
// encrypt_key, crypto_type, data_serializer, timeout, cookie_expires) and
// turns a cookie value into a Session and back:
//
//	codec, err := beaker.New(beaker.Config{
//		ValidateKey: os.Getenv("BEAKER_VALIDATE_KEY"), // session.validate_key
//		EncryptKey:  os.Getenv("BEAKER_ENCRYPT_KEY"),  // session.encrypt_key
//		CryptoType:  beaker.CryptoCryptography,        // session.crypto_type
//		Serializer:  beaker.JSON,                      // session.data_serializer
//		Timeout:     time.Hour,                        // session.timeout
//	})
//	...
//	c, err := r.Cookie("beaker.session.id") // session.key
//	s, err := codec.Decode(c.Value)
//	s.Values["user"] = "alice"
//	v, err := codec.Encode(s)
//
// Decode authenticates before it parses: the HMAC-SHA1 signature first
// (and the AES-GCM tag with crypto_type = cryptography), then the data.
//
// # Through a sesame.Manager
//
// A Codec is also a sesame.CookieCodec: a Manager with
// sesame.Config{CookieCodec: codec} serves Beaker's cookie through the
// Session API (Get, Put, Delete, Keys, Flash, Flashes, Login, Renew,
// Destroy, RememberMe), so that a Go handler reads and changes the
// session the Python application wrote, and the other way round:
//
//	m, err := sesame.New(sesame.Config{
//		CookieCodec: codec,
//		Cookie:      sesame.CookieConfig{Name: "beaker.session.id"}, // session.key, cookie_path, cookie_domain
//		IdleTimeout: time.Hour,                                       // session.timeout, as Config.Timeout
//	})
//
// Values are JSON to the Session API. Python's str, int, float, bool,
// None, list and dict are themselves; a float keeps a fraction ("3.0"), so
// Get[int] refuses it; bytes are a base64 string (Get[[]byte] reads them)
// and a datetime an RFC 3339 string (Get[time.Time] reads it); a tuple is
// a list. A value the handler leaves alone goes back to Python as Python
// wrote it, bytes, datetime, float and all (a tuple as a list). A value Go
// writes reaches Python as JSON's types do: a str, an int for a whole
// number (Go writes 3.0 as 3), a float, a bool, None, a list or a dict
// with str keys; []byte arrives as a base64 str and time.Time as an RFC
// 3339 str.
//
// The user is the str under Config.UserKey ("auth.userid" by default,
// where Pyramid's SessionAuthenticationPolicy keeps it); Login writes it
// there and gives the session a new _id, as Renew does. Flash messages
// are the list of str under Config.FlashKey ("_f_", the default queue of
// Pyramid's session.flash). _creation_time is when the session began
// (Login restarts it), _accessed_time when it was last saved, and
// _expires when its cookie expires. The Manager ends a session at its own
// IdleTimeout and Lifetime as well as at Beaker's timeout and _expires:
// set IdleTimeout to Beaker's timeout (and Config.Timeout), so that both
// sides end a session at the same moment.
//
// Beaker writes every session it loads again at once, and raises when
// that is over its limit: the Python application would then fail on every
// request of that browser. So the Manager refuses (sesame.ErrTooLarge) a
// change after which Beaker might not fit the session: it counts Go's
// pickle, which is as long as CPython's, or the JSON before compression
// (Beaker's zlib and Go's compress the same JSON to lengths some per cent
// apart, either way), and 120 bytes for the _domain and _path Beaker adds.
// That is about 2.9 kB of serialized session with either serializer.
//
// # Pickles
//
// Beaker's default serializer is Python's pickle, which can call any
// Python function while loading: whoever can sign a cookie (anyone who
// knows the validate key) can run code in the Python application. This
// package never runs anything. It reads a pickle with a small machine
// that knows only the opcodes plain data needs: dict (str keys), list,
// tuple, str, bytes, int within int64, finite float, bool, None and
// datetime (naive, or with a fixed-offset datetime.timezone). The
// constructors CPython writes for bytes and datetimes are recognised by
// their exact names and arguments and built in Go; any other global, and
// every opcode that builds objects (REDUCE of anything else, BUILD, INST,
// OBJ, NEWOBJ, NEWOBJ_EX), reaches outside the pickle (persistent ids,
// extension codes, out-of-band buffers) or makes sets or bytearrays,
// fails Decode with ErrRefused. Encode writes protocol 2, as Beaker does.
//
// Tuples come back as []any and are written as lists; a datetime's
// timezone name and fold are not kept. Prefer Beaker's JSON serializer
// where both sides can switch to it.
//
// # Times
//
// Beaker keeps its own keys in the session dict, which Session carries as
// fields: _id (ID), _creation_time (Created), _accessed_time (Accessed,
// which Beaker compares with its timeout), _expires (Expires, the
// cookie's expiry once set), and _domain and _path. Decode refuses with
// ErrExpired a session last accessed longer than Config.Timeout ago, as
// Beaker does, and also one whose _expires has passed, which Beaker
// leaves to the browser.
package beaker
