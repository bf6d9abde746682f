#!/usr/bin/env python3
"""Transform a SAM template into the CloudFormation template that `sam deploy`
sends, with the SAM translator (samtranslator, which aws-sam-cli brings), and
print it as JSON. Code locations become the s3:// URIs `sam package` would
give, so no AWS account or network is needed.

Usage: sam-translate.py template.yaml > transformed.json
"""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name, so none is looked up."""

    def load(self):
        return {}


def main(path):
    with open(path) as f:
        tpl = yaml_parse(f.read())
    tpl.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for logical_id, res in tpl.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = "s3://artifacts/%s.zip" % logical_id
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    out = transform(tpl, {}, NoManagedPolicies())
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
