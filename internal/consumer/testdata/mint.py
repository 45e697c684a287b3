#!/usr/bin/env python3
"""Mints JWTs with PyJWT (Debian's python3-jwt) for the consumer tests.

Reads a JSON list of {"alg", "key", "claims", "headers"} on stdin (key: a
PEM private key, or the HS secret) and writes a JSON list of tokens.
"""
import json
import sys

import jwt

out = []
for spec in json.load(sys.stdin):
    out.append(jwt.encode(spec["claims"], spec["key"], algorithm=spec["alg"], headers=spec.get("headers") or None))
json.dump(out, sys.stdout)
