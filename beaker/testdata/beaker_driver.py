#!/usr/bin/env python3
"""Runs real Beaker cookie sessions for beaker/interop_test.go.

Usage: beaker_driver.py < requests (one JSON object a line) > answers (one a line)

Each request is served the way a WSGI application serves it: through
beaker.middleware.SessionMiddleware with session.type = cookie, around a
small application that reads the session, changes it and saves it. Nothing
of Beaker is copied or changed here.

Requests ("op"):
  "request": options (Beaker's session settings without the "session."
             prefix), cookie (the Cookie header, may be empty), set (typed
             values to store), delete (keys), save (bool), clock_offset
             (seconds added to time.time() while the request runs: the
             test's clock, so that expiry is tested without waiting)
             -> {"set_cookie": the Set-Cookie header or "",
                 "values": the session dict as the application saw it (typed),
                 "is_new", "crypto_module"}
             or {"error": ...} when Beaker raised.
  "pickle":  value (typed), protocol -> {"pickle": base64 of pickle.dumps}
  "unpickle": pickle (base64) -> {"value": typed} or {"error": ...}

Typed values carry what JSON cannot: {"t": type, "v": ...} with type one of
none, bool, int (v a decimal string), float (v its repr), str, bytes (v
base64), list, tuple (v a list of typed values), dict (v a list of
[typed key, typed value]), datetime (v [y, m, d, H, M, S, us], offset in
seconds or null, tzname or null), and, for writing only, callable (v a shell
command: an object whose pickle calls os.system with it, as an attacker
would write one) and other (what reading found: v its repr).
"""
import base64
import datetime
import io
import json
import os
import pickle
import sys
import time
import wsgiref.util

sys.dont_write_bytecode = True

from beaker import crypto  # noqa: E402
from beaker.middleware import SessionMiddleware  # noqa: E402


class Callable:
    """Pickles to a call of os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def to_py(tv):
    t, v = tv["t"], tv.get("v")
    if t == "none":
        return None
    if t in ("bool", "str"):
        return v
    if t == "int":
        return int(v)
    if t == "float":
        return float(v)
    if t == "bytes":
        return base64.b64decode(v)
    if t == "list":
        return [to_py(x) for x in v]
    if t == "tuple":
        return tuple(to_py(x) for x in v)
    if t == "dict":
        return {to_py(k): to_py(x) for k, x in v}
    if t == "datetime":
        tz = None
        if tv.get("offset") is not None:
            off = datetime.timedelta(seconds=tv["offset"])
            tz = datetime.timezone(off, tv["tzname"]) if tv.get("tzname") else datetime.timezone(off)
        y, mo, d, h, mi, s, us = v
        return datetime.datetime(y, mo, d, h, mi, s, us, tzinfo=tz)
    if t == "callable":
        return Callable(v)
    raise ValueError("unknown type %r" % t)


def from_py(v):
    if v is None:
        return {"t": "none"}
    if isinstance(v, bool):
        return {"t": "bool", "v": v}
    if isinstance(v, int):
        return {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return {"t": "float", "v": repr(v)}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, bytes):
        return {"t": "bytes", "v": base64.b64encode(v).decode()}
    if isinstance(v, list):
        return {"t": "list", "v": [from_py(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": "tuple", "v": [from_py(x) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "v": [[from_py(k), from_py(x)] for k, x in v.items()]}
    if isinstance(v, datetime.datetime):
        out = {"t": "datetime", "v": [v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond],
               "offset": None, "tzname": None}
        if v.tzinfo is not None:
            out["offset"] = int(v.utcoffset().total_seconds())
            args = v.tzinfo.__getinitargs__()
            out["tzname"] = args[1] if len(args) > 1 else None
        return out
    return {"t": "other", "v": repr(v)}


def request(req):
    options = {"session.type": "cookie"}
    for k, v in req.get("options", {}).items():
        options["session." + k] = v
    seen = {}

    def app(environ, start_response):
        session = environ["beaker.session"]
        try:
            seen["values"] = from_py(dict(session))  # loads the session
        except Exception as e:  # Beaker raises on a bad cookie
            seen["error"] = "%s: %s" % (type(e).__name__, e)
            start_response("500 Internal Server Error", [])
            return [b""]
        seen["is_new"] = session.is_new
        for k, v in req.get("set", {}).items():
            session[k] = to_py(v)
        for k in req.get("delete", []):
            del session[k]
        if req.get("save"):
            session.save()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ["wsgi.errors"] = io.StringIO()
    if req.get("cookie"):
        environ["HTTP_COOKIE"] = req["cookie"]
    headers = []

    def start_response(status, response_headers, exc_info=None):
        headers.extend(response_headers)

    real_time = time.time
    offset = req.get("clock_offset", 0)
    if offset:
        time.time = lambda: real_time() + offset
    try:
        b"".join(SessionMiddleware(app, options)(environ, start_response))
    except Exception as e:  # Beaker raises when it saves
        seen.setdefault("error", "%s: %s" % (type(e).__name__, e))
    finally:
        time.time = real_time
    out = dict(seen)
    out["set_cookie"] = next((v for k, v in headers if k.lower() == "set-cookie"), "")
    out["crypto_module"] = crypto.get_crypto_module(req.get("options", {}).get("crypto_type", "default")).__name__
    return out


def do_pickle(req):
    return {"pickle": base64.b64encode(pickle.dumps(to_py(req["value"]), req["protocol"])).decode()}


def do_unpickle(req):
    try:
        return {"value": from_py(pickle.loads(base64.b64decode(req["pickle"])))}
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}


OPS = {"request": request, "pickle": do_pickle, "unpickle": do_unpickle}


def main():
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.write(json.dumps(OPS[req["op"]](req)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
