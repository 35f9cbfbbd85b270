"""Validate Kubernetes manifests against the vendored JSON schemas, offline.

    kubectl kustomize deploy/k8s/overlays/example | python deploy/k8s/validate.py -
    python deploy/k8s/validate.py rendered.yaml [more.yaml ...]

Each document is checked against the strict schema of its kind for one Kubernetes release
(`schemas/<release>/`, see `schemas/README.md`): unknown fields, wrong types and a kind we
hold no schema for are all errors. Exit status 1 with one line per problem; 0 when clean.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

RELEASE = "v1.32.0"
SCHEMAS = Path(__file__).resolve().parent / "schemas" / RELEASE
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"


def _schema_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    name = kind.lower() + (f"-{group.split('.')[0]}" if group else "") + f"-{version}"
    return SCHEMAS / f"{name}.json"


def _registry() -> Registry:
    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())
    return Registry().with_resource(DEFINITIONS_ID, Resource.from_contents(definitions))


def documents(texts: Iterable[tuple[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for every non-empty YAML document of every (name, text)."""
    for name, text in texts:
        for index, doc in enumerate(yaml.safe_load_all(text)):
            if doc:
                yield f"{name}[{index}]", doc


def problems(docs: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every schema violation, as `where kind/name: path: message`."""
    registry = _registry()
    found: list[str] = []
    for where, doc in docs:
        kind = str(doc.get("kind", ""))
        label = f"{where} {kind}/{(doc.get('metadata') or {}).get('name', '?')}"
        path = _schema_file(str(doc.get("apiVersion", "")), kind)
        if not path.exists():
            found.append(f"{label}: no schema for {doc.get('apiVersion')} {kind} in {RELEASE}")
            continue
        validator = Draft202012Validator(json.loads(path.read_text()), registry=registry)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            at = "/".join(str(part) for part in error.absolute_path) or "(root)"
            found.append(f"{label}: {at}: {error.message[:300]}")
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    texts = [
        ("<stdin>", sys.stdin.read()) if arg == "-" else (arg, Path(arg).read_text())
        for arg in argv
    ]
    docs = list(documents(texts))
    found = problems(docs)
    if not docs:
        found.append("no documents: nothing rendered?")
    for line in found:
        print(line)
    print(f"{len(docs)} documents checked against Kubernetes {RELEASE}: {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
