#!/usr/bin/env python3
"""Runs plone.session's real tktauth module for ticket/tktauth_test.go.

Usage: tktauth_driver.py INTEROP_DIR < requests.json > results.json

tktauth is imported from INTEROP_DIR/plone, where it is kept as it is; this
driver adds that directory to sys.path and does nothing to the module. Around
it the driver does what plone.session's session plugin and Zope do with the
cookie, so that Go sees the cookie values a browser gets from Plone:

  writing: base64 (binascii.b2a_base64, stripped), then Zope's Set-Cookie
           value: URL-quoted (Zope 4.8, 5.5 and later) or URL-quoted inside
           double quotes (older Zope);
  reading: the value as the browser sends it, double quotes stripped and
           URL-unquoted (Zope's cookie parsing), then binascii.a2b_base64.

Each request is a JSON object with "op":
  "create":   secret, userid, tokens, user_data, ip, timestamp, mod_auth_tkt
              -> {"base64", "zope_new", "zope_old"}
  "validate": secret, cookie, ip, timeout, now, mod_auth_tkt
              -> {"valid", and when valid "userid", "tokens", "user_data", "timestamp"}
"""
import binascii
import json
import os
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(sys.argv[1], "plone"))
import tktauth  # noqa: E402


def create(req):
    tkt = tktauth.createTicket(
        req["secret"], req["userid"], tuple(req["tokens"]), req["user_data"],
        ip=req["ip"], timestamp=req["timestamp"], mod_auth_tkt=req["mod_auth_tkt"])
    b64 = binascii.b2a_base64(tkt).rstrip()
    quoted = urllib.parse.quote(b64)
    return {"base64": b64.decode(), "zope_new": quoted, "zope_old": '"' + quoted + '"'}


def validate(req):
    value = req["cookie"]
    if len(value) > 1 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    value = urllib.parse.unquote(value)
    try:
        tkt = binascii.a2b_base64(value)
    except binascii.Error as e:
        return {"valid": False, "error": "base64: %s" % e}
    try:
        data = tktauth.validateTicket(
            req["secret"], tkt, ip=req["ip"], timeout=req["timeout"], now=req["now"],
            mod_auth_tkt=req["mod_auth_tkt"])
    except Exception as e:  # tktauth raises on some malformed input
        return {"valid": False, "error": repr(e)}
    if data is None:
        return {"valid": False}
    _, userid, tokens, user_data, timestamp = data
    return {"valid": True, "userid": userid, "tokens": list(tokens),
            "user_data": user_data, "timestamp": timestamp}


def main():
    ops = {"create": create, "validate": validate}
    reqs = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    out = [ops[req["op"]](req) for req in reqs]
    sys.stdout.buffer.write(json.dumps(out, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
