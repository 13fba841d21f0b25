"""How an order system sends items to Tessera: sign ``<timestamp>.<body>``, POST, read results.

python send.py https://crm.example.com shop "$TESSERA_SOURCE_KEY" customer items.json
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time

import requests


def send(base_url: str, source: str, key: str, object_key: str, items) -> requests.Response:
    body = json.dumps(items, ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return requests.post(
        f"{base_url}/ingest/{source}/{object_key}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Tessera-Timestamp": timestamp,
            "X-Tessera-Signature": "sha256=" + digest.hexdigest(),
        },
        timeout=30,
    )


if __name__ == "__main__":
    base, source, key, object_key, path = sys.argv[1:6]
    with open(path, encoding="utf-8") as f:
        response = send(base, source, key, object_key, json.load(f))
    print(response.status_code, json.dumps(response.json(), ensure_ascii=False, indent=2))
