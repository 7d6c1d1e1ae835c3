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
