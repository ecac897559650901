"""Reads a topic from the start with hop-client and prints each message as one JSON line.

Usage: python hop_read_json.py kafka://user@host:port/topic   (auth from hop's auth.toml)
Each line: {"model": hop model class, "content": decoded content, "headers": {name: text or hex}}.
"""
import json
import sys
import uuid

from hop import Stream
from hop.io import StartPosition

stream = Stream(start_at=StartPosition.EARLIEST, until_eos=True)
with stream.open(sys.argv[1], "r") as s:
    for msg, meta in s.read(metadata=True):
        headers = {}
        for key, value in meta.headers or []:
            raw = bytes(value)
            headers[key] = str(uuid.UUID(bytes=raw)) if key == "_id" else raw.decode("utf-8", "replace")
        print(json.dumps({"model": type(msg).__name__, "content": msg.content, "headers": headers}), flush=True)
