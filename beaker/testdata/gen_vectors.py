#!/usr/bin/env python3
"""Writes vectors.json: cookies written by real Beaker, for vectors_test.go.

Usage: python3 gen_vectors.py > vectors.json (with Debian's python3-beaker,
python3-pycryptodome and python3-cryptography installed)

Each vector is a cookie value that beaker.session.CookieSession wrote for
one set of settings, with the session dict it holds (typed as in
beaker_driver.py). The keys are fixed, so Go can read the cookies without
Python; no timeout or cookie expiry is set, so they never expire.
"""
import json
import os
import sys
from http.cookies import SimpleCookie

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import beaker  # noqa: E402
from beaker.session import CookieSession  # noqa: E402
from beaker_driver import from_py, to_py  # noqa: E402

VALIDATE_KEY = "the validate key shared with Python"
ENCRYPT_KEY = "the encrypt key shared with Python"

CRYPTOS = [
    ("signed only", {}),
    ("crypto_type default", {"encrypt_key": ENCRYPT_KEY}),
    ("crypto_type pycrypto", {"encrypt_key": ENCRYPT_KEY, "crypto_type": "pycrypto"}),
    ("crypto_type cryptography", {"encrypt_key": ENCRYPT_KEY, "crypto_type": "cryptography"}),
    ("crypto_type pycrypto, 48-bit nonces", {"encrypt_key": ENCRYPT_KEY, "crypto_type": "pycrypto", "encrypt_nonce_bits": 48}),
]

COMMON = {
    "user": {"t": "str", "v": "alice"},
    "unicode": {"t": "str", "v": "\u017elu\u0165ou\u010dk\u00fd k\u016f\u0148 \U0001F600"},
    "int": {"t": "int", "v": "-9223372036854775808"},
    "float": {"t": "float", "v": "0.1"},
    "whole float": {"t": "float", "v": "3.0"},
    "flags": {"t": "list", "v": [{"t": "bool", "v": True}, {"t": "bool", "v": False}, {"t": "none"}]},
    "nested": {"t": "dict", "v": [[{"t": "str", "v": "a"}, {"t": "list", "v": []}]]},
}
PICKLE_ONLY = {
    "bytes": {"t": "bytes", "v": "AAH/"},
    "tuple": {"t": "tuple", "v": [{"t": "int", "v": "1"}, {"t": "str", "v": "two"}]},
    "naive datetime": {"t": "datetime", "v": [2031, 7, 8, 9, 10, 11, 123456], "offset": None, "tzname": None},
    "aware datetime": {"t": "datetime", "v": [2031, 7, 8, 9, 10, 11, 0], "offset": -18000, "tzname": "EST"},
}


def main():
    vectors = []
    for serializer in ("pickle", "json"):
        for name, crypto in CRYPTOS:
            options = dict(crypto, validate_key=VALIDATE_KEY, data_serializer=serializer)
            req = {"cookie": ""}
            session = CookieSession(req, **options)
            values = dict(COMMON, **(PICKLE_ONLY if serializer == "pickle" else {}))
            for k, v in values.items():
                session[k] = to_py(v)
            session.save()
            cookie = SimpleCookie(req["cookie_out"].strip())["beaker.session.id"].value
            vectors.append({"name": "%s, %s" % (name, serializer), "options": options,
                            "cookie": cookie, "session": from_py(dict(session))})
    # One vector a line, so a change to one shows as one line.
    sys.stdout.write('{"beaker": %s, "vectors": [\n' % json.dumps(beaker.__version__))
    sys.stdout.write(",\n".join(json.dumps(v) for v in vectors))
    sys.stdout.write("\n]}\n")


if __name__ == "__main__":
    main()
