#!/usr/bin/env python3
"""Derive Vigil's compact wire schemas from the botocore service models.

The botocore models (service-2.json) are the wire contract. This strips what the server
never needs (documentation, examples, deprecation texts) and writes one minified JSON per
service to schema/<service>.json. The output is committed so the build needs no Python;
re-run this when botocore is upgraded:  python3 tools/gen_schema.py
"""
import gzip, json, os, sys

# service folder in botocore -> (api version, name Vigil uses)
SERVICES = {
    "logs": "2014-03-28",
    "cloudtrail": "2013-11-01",
    "cloudwatch": "2010-08-01",
    "s3": "2006-03-01",
    "sns": "2010-03-31",
    "kms": "2014-11-01",
}
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage", "deprecated"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def load(path):
    if os.path.exists(path):
        return json.load(open(path))
    return json.load(gzip.open(path + ".gz"))


def main():
    import botocore
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema")
    os.makedirs(out_dir, exist_ok=True)
    for service, version in SERVICES.items():
        model = strip(load(os.path.join(data, service, version, "service-2.json")))
        model["metadata"]["vigilService"] = service
        with open(os.path.join(out_dir, service + ".json"), "w") as f:
            json.dump(model, f, separators=(",", ":"), sort_keys=True)
        print(service, botocore.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
