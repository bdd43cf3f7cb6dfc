"""Compares two SAM templates resource by resource, as CloudFormation reads them (cfn-lint's
decoder: comments, key order and layout do not count), and prints every difference.

An IAM statement's `Action` given as one string and as a list of one are the same; so is an
environment variable's order. Everything else counts: a resource added, removed or changed,
a property, a policy statement, an event.

Usage: .venv-sam/bin/python scripts/template_compare.py OLD.yaml NEW.yaml
Exit status 0 when the two deploy the same resources, 1 otherwise.
"""

import json
import sys

from cfnlint.decode import decode


def load(path):
    template, matches = decode(path)
    if template is None:
        sys.exit(f"{path}: {matches}")
    return template


def normal(value):
    """The value with every IAM Action a list (what a statement means, not how it is written)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "Action" and isinstance(v, str):
                v = [v]
            out[str(k)] = normal(v)
        return out
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def differences(old, new, path):
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            if k not in new:
                yield f"{path}.{k}: removed ({json.dumps(old[k], default=str)[:200]})"
            elif k not in old:
                yield f"{path}.{k}: added ({json.dumps(new[k], default=str)[:200]})"
            else:
                yield from differences(old[k], new[k], f"{path}.{k}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (o, n) in enumerate(zip(old, new)):
            yield from differences(o, n, f"{path}[{i}]")
    elif old != new:
        yield f"{path}: {json.dumps(old, default=str)[:200]} -> {json.dumps(new, default=str)[:200]}"


def main():
    old, new = (normal(load(p)) for p in sys.argv[1:3])
    found = list(differences(old, new, "template"))
    for line in found:
        print(line)
    resources = len(new.get("Resources", {}))
    print(f"{len(found)} difference(s); {resources} resources in {sys.argv[2]}")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
