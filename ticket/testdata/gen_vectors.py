#!/usr/bin/env python3
"""Known-answer vectors for package ticket, computed independently with hashlib.

This follows the mod_auth_tkt 2.3.99 ticket format as read from the module's
source, not the Go code:

    digest0 = H(ip4 ‖ ts (4 bytes, big-endian) ‖ secret ‖ uid ‖ NUL ‖ tokens ‖ NUL ‖ data)
    digest  = H(hex(digest0) ‖ secret)
    ticket  = hex(digest) ‖ "%08x" % ts ‖ uid ‖ "!" ‖ [tokens "!"] ‖ data
    cookie  = base64(ticket)

The "tokens!" part is written when there are tokens, or when the user data
itself contains "!" (otherwise a reader would take part of the data for tokens).

plone.session's default format (format "plone.session", digest "SHA256") puts
the raw 32 bytes of HMAC-SHA256(secret, ip4 ‖ ts ‖ uid ‖ NUL ‖ tokens ‖ NUL ‖ data)
where the hex digest would be; its mod_auth_tkt mode (digest "MD5") is the MD5
ticket above. Its vectors have no "raw" (the HMAC form is binary) and carry
"zope", the cookie URL-quoted as Zope writes it. plone.session cannot read user
data holding "!", so those cases are left out for it.

Run from the repository root:
    python3 ticket/testdata/gen_vectors.py > ticket/testdata/vectors.json
"""
import base64
import hashlib
import hmac
import ipaddress
import json
import sys
import urllib.parse

HASHES = {"MD5": hashlib.md5, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def ticket(digest, secret, ip, ts, uid, tokens, data):
    h = HASHES[digest]
    ip4 = ipaddress.IPv4Address(ip).packed
    inner = ip4 + ts.to_bytes(4, "big") + secret.encode() + uid.encode() + b"\0" + \
        ",".join(tokens).encode() + b"\0" + data.encode()
    d0 = h(inner).hexdigest()
    d = h(d0.encode() + secret.encode()).hexdigest()
    body = uid + "!"
    if tokens or "!" in data:
        body += ",".join(tokens) + "!"
    body += data
    raw = d + "%08x" % ts + body
    return raw


def plone_hmac_ticket(secret, ip, ts, uid, tokens, data):
    ip4 = ipaddress.IPv4Address(ip).packed
    msg = ip4 + ts.to_bytes(4, "big") + uid.encode() + b"\0" + \
        ",".join(tokens).encode() + b"\0" + data.encode()
    d = hmac.new(secret.encode(), msg, hashlib.sha256).digest()
    body = uid + "!"
    if tokens:
        body += ",".join(tokens) + "!"
    body += data
    return d + ("%08x" % ts).encode() + body.encode()


CASES = [
    # name, secret, ip, ts, uid, tokens, data
    ("plain", "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", "0.0.0.0", 1700000000, "alice", [], ""),
    ("ip-bound", "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", "192.168.10.20", 1700000000, "alice", [], ""),
    ("tokens-and-data", "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", "127.0.0.1", 1234567890,
     "bob@example.org", ["editor", "admin"], "Bob Example|bob@example.org"),
    ("data-only", "another secret, with spaces", "0.0.0.0", 1, "carol", [], "fullname=Carol"),
    ("data-with-bang", "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", "0.0.0.0", 1700000123,
     "dave", [], "wow!such!data"),
    ("token-only", "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", "10.0.0.1", 0x7fffffff, "erin", ["reader"], ""),
    ("utf8", "sécret-ünïcode-0123456789", "0.0.0.0", 1700000000, "zoë", ["grüppe"], "naïve; data=1"),
]


def vector(name, fmt, digest, case, raw, tkt):
    _, secret, ip, ts, uid, tokens, data = case
    return {
        "name": name,
        "format": fmt,
        "digest": digest,
        "secret": secret,
        "ip": ip,
        "ts": ts,
        "uid": uid,
        "tokens": tokens,
        "data": data,
        "raw": raw,
        "cookie": base64.b64encode(tkt).decode(),
    }


def main():
    out = []
    for case in CASES:
        for digest in ("MD5", "SHA256", "SHA512"):
            raw = ticket(digest, *case[1:])
            out.append(vector(case[0] + "/" + digest, "mod_auth_tkt", digest, case, raw, raw.encode()))
    for case in CASES:
        if "!" in case[-1]:
            continue
        for digest in ("MD5", "SHA256"):
            if digest == "MD5":
                raw = ticket(digest, *case[1:])
                tkt = raw.encode()
            else:
                raw, tkt = "", plone_hmac_ticket(*case[1:])
            v = vector(case[0] + "/plone." + digest, "plone.session", digest, case, raw, tkt)
            v["zope"] = urllib.parse.quote(v["cookie"])
            out.append(v)
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
