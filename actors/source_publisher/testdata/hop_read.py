"""Reads the replay's topics with hop-client and prints one JSON summary line per topic.

Usage: python hop_read.py kafka://user@host:port GROUP   (auth from hop's auth.toml)
Each line: {"topic", "count", "models": {model: n}, "ids": n_distinct_ids, ...checks}.
"""
import hashlib
import json
import sys

from hop import Stream
from hop.io import StartPosition

base, group = sys.argv[1], sys.argv[2]
for name in ["igwn-gwalert", "gcn-notices", "gcn-circulars", "optical-candidates"]:
    topic = f"{group}.{name}"
    stream = Stream(start_at=StartPosition.EARLIEST, until_eos=True)
    out = {"topic": topic, "count": 0, "models": {}, "ids": set()}
    with stream.open(f"{base}/{topic}", "r") as s:
        for msg, meta in s.read(metadata=True):
            out["count"] += 1
            model = type(msg).__name__
            out["models"][model] = out["models"].get(model, 0) + 1
            headers = dict(meta.headers or [])
            out["ids"].add(bytes(headers.get("_id", b"")).hex())
            if name == "igwn-gwalert":
                rec = msg.content
                out.setdefault("alert_types", []).append(rec["alert_type"])
                out.setdefault("fields", sorted(rec.keys()))
                sky = rec["event"]["skymap"]
                out.setdefault("skymap_sha256", []).append(hashlib.sha256(sky).hexdigest())
                out.setdefault("skymap_starts", []).append(sky[:6].decode())
            elif name == "gcn-notices":
                out.setdefault("schemas", []).append(msg.content["$schema"].split("/notices/")[1])
            elif name == "gcn-circulars":
                out.setdefault("numbers", []).append(msg.header["number"])
            else:
                rec = msg.content
                if rec["object_id"] == "AT2017gfo":
                    out["at2017gfo"] = out.get("at2017gfo", 0) + 1
    out["ids"] = len(out["ids"])
    print(json.dumps(out), flush=True)
