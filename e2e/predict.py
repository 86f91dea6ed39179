"""Sends one row of a CSV file to a Lepton model server and checks the answer.

    python3 e2e/predict.py BASE_URL MODEL CSV

BASE_URL is the deployment's address (its `status.url`, or a port-forward to its Service).
The row keeps only the columns the model takes, as its Open Inference Protocol metadata
lists them. Exit status 0 when the server answers with one prediction, 1 otherwise, with
the server's reply. Standard library only: it also runs on a machine with no virtualenv.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(method: str, url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def cell(text: str):
    """A CSV cell as the model expects it: a number when it reads as one."""
    try:
        return float(text)
    except ValueError:
        return text


def main(base: str, model: str, csv_path: str) -> int:
    base = base.rstrip("/")
    # A Service answers as soon as one pod is ready, but a port-forward may take a moment.
    attempts = int(os.environ.get("LEPTON_E2E_PREDICT_ATTEMPTS", "20"))
    for attempt in range(attempts):
        try:
            metadata = call("GET", f"{base}/v2/models/{model}")
            break
        except urllib.error.HTTPError as error:
            print(f"predict: {base}/v2/models/{model} answered {error.code}: "
                  f"{error.read().decode(errors='replace')}", file=sys.stderr)
            return 1
        except (urllib.error.URLError, ConnectionError) as error:
            if attempt == attempts - 1:
                print(f"predict: {base}/v2/models/{model} did not answer: {error}", file=sys.stderr)
                return 1
            time.sleep(1)
    inputs = [i["name"] for i in metadata.get("inputs", [])]
    if not inputs:
        print(f"predict: the model's metadata lists no inputs: {metadata}", file=sys.stderr)
        return 1
    with open(csv_path, newline="") as f:
        row = next(csv.DictReader(f))
    missing = [name for name in inputs if name not in row]
    if missing:
        print(f"predict: {csv_path} has no column {missing[0]!r}, which the model takes", file=sys.stderr)
        return 1
    instance = {name: cell(row[name]) for name in inputs}
    try:
        answer = call("POST", f"{base}/v1/models/{model}:predict", {"instances": [instance]})
    except urllib.error.HTTPError as error:
        print(f"predict: the server answered {error.code}: {error.read().decode(errors='replace')}",
              file=sys.stderr)
        return 1
    predictions = answer.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != 1:
        print(f"predict: expected one prediction, got {answer}", file=sys.stderr)
        return 1
    print(f"predict: {model} answered {json.dumps(predictions[0])} for {json.dumps(instance)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
