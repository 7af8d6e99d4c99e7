"""Validates custom resources (PodMonitor, PrometheusRule) against their
CRDs' openAPIV3Schema, strictly: a field the schema does not name fails, as
kubernetes-validate --strict does for built-in kinds and as the API server
does for a structural schema (it prunes unknown fields, which a review must
catch rather than lose silently).

    python3 validate_custom_resources.py CRD_DIR FILE...

Prints one line per custom resource: `OK FILE KIND/NAME` or
`ERROR FILE KIND/NAME: PATH: MESSAGE`; kinds without a CRD in CRD_DIR are
left to kubernetes-validate and not printed. Exits 1 when any failed.
Used by tests/deploy.rs; jsonschema and PyYAML come with kubernetes-validate.
"""

import copy
import glob
import os
import sys

import jsonschema
import yaml

# What a manifest may set in metadata; the CRD schema says only "object".
OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def strict(node):
    """Closes every object schema that lists its properties, unless it says
    it keeps unknown fields."""
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in node.get(key, {}).values():
                strict(child)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                strict(node[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key, []):
                strict(child)
    return node


def schemas(crd_dir):
    found = {}
    for path in sorted(glob.glob(os.path.join(crd_dir, "*.yaml"))):
        with open(path) as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group = crd["spec"]["group"]
                kind = crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                    schema["properties"]["metadata"] = OBJECT_META
                    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                    found[(f"{group}/{version['name']}", kind)] = schema
    return found


def main():
    known = schemas(sys.argv[1])
    if not known:
        sys.exit(f"no CRDs in {sys.argv[1]}")
    failed = False
    for path in sys.argv[2:]:
        with open(path) as f:
            documents = [d for d in yaml.safe_load_all(f) if d]
        for doc in documents:
            schema = known.get((doc.get("apiVersion"), doc.get("kind")))
            if schema is None:
                continue
            name = f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(doc),
                key=lambda e: list(e.absolute_path),
            )
            for error in errors:
                where = ".".join(str(p) for p in error.absolute_path) or "(top)"
                print(f"ERROR {path} {name}: {where}: {error.message}")
            if errors:
                failed = True
            else:
                print(f"OK {path} {name}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
