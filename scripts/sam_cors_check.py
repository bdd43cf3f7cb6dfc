#!/usr/bin/env python3
"""What the deployed HTTP API's CORS will be: template.yaml through the SAM transform (the
translator of SAM CLI's own environment, as CloudFormation runs it), for no AllowedOrigins and
for two, with the transform's `Fn::If` evaluated as CloudFormation evaluates it. With none, the
API has no CORS at all; with two, exactly those origins, the template's methods and headers,
Retry-After and WWW-Authenticate exposed, 600 s, no credentials: exactly what the template's
CorsConfiguration asks for. (The drift test holds the template's values to the local server's;
this holds SAM's output to the template, since SAM handles a conditional CorsConfiguration in
its own way.)

`sam local start-api` does not apply this configuration: SAM CLI cannot resolve an `Fn::If`
whose other branch is `AWS::NoValue`, so it sees no origin (docs/integrating.md says so).

The parameter's pattern is checked too: it takes exact origins only, never `*`.

Usage: .venv-sam/bin/python scripts/sam_cors_check.py   (scripts/test runs it with the lints)
"""

import copy
import os
import re
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

class NoManagedPolicies:
    def load(self):
        return {}


def evaluate(value, parameters):
    """The few intrinsics the transformed CORS holds, as CloudFormation evaluates them."""
    if isinstance(value, list):
        return [evaluate(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::If"]:
        condition, yes, no = value["Fn::If"]
        assert condition == "HasAllowedOrigins", condition
        return evaluate(yes if parameters["AllowedOrigins"] != "" else no, parameters)
    if list(value) == ["Fn::Split"]:
        sep, text = value["Fn::Split"]
        return evaluate(text, parameters).split(sep)
    if list(value) == ["Ref"]:
        return None if value["Ref"] == "AWS::NoValue" else parameters[value["Ref"]]
    return {k: v for k, v in ((k, evaluate(v, parameters)) for k, v in value.items())
            if v is not None}


def deployed_cors(template, origins):
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"  # what `sam deploy` uploads
    parameters = {"AllowedOrigins": origins}
    out = transform(template, parameters, NoManagedPolicies())
    body = out["Resources"]["HttpApi"]["Properties"]["Body"]
    return evaluate(body.get("x-amazon-apigateway-cors"), parameters)


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform names a region
    with open("template.yaml") as f:
        template = yaml_parse(f.read())
    pattern = template["Parameters"]["AllowedOrigins"]["AllowedPattern"]
    for good in ["", "https://app.example.com", "https://app.example.com,http://127.0.0.1:5173",
                 "http://[::1]:8080"]:
        if not re.fullmatch(pattern, good):
            sys.exit(f"AllowedOrigins refuses {good!r}")
    for bad in ["*", "https://app.example.com,*", "https://app.example.com/", "null",
                "https://App.example.com", "https://app.example.com, http://x.test",
                "ftp://app.example.com", "https://*.example.com"]:
        if re.fullmatch(pattern, bad):
            sys.exit(f"AllowedOrigins accepts {bad!r}")
    none = deployed_cors(template, "")
    if none is not None:
        sys.exit(f"no AllowedOrigins, yet the API has CORS: {none}")
    origins = "https://app.example.com,http://localhost:5173"
    two = deployed_cors(template, origins)
    # What the template asks for (the drift test holds it to the local server's rules), in
    # API Gateway's spelling: the branch of its !If that names the origins, evaluated.
    configured = template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    if list(configured) != ["Fn::If"]:
        sys.exit("template.yaml's CorsConfiguration must be one !If around the whole of it: SAM "
                 "takes an intrinsic inside it as the whole configuration")
    asked = configured["Fn::If"][1]
    expected = {key[0].lower() + key[1:]: value
                for key, value in evaluate(asked, {"AllowedOrigins": origins}).items()}
    if two != expected:
        sys.exit(f"AllowedOrigins={origins}: the API's CORS is {two}, expected {expected}")
    print("ok: AllowedOrigins refuses * and what is not an exact origin; no CORS without it; "
          "with two, exactly them and the template's rules")


if __name__ == "__main__":
    main()
