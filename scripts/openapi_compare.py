#!/usr/bin/env python3
"""Compares two OpenAPI documents operation by operation, every $ref resolved, and lists each
difference: what an operation takes and answers, not how the file is laid out (a schema named
or inline, the order of keys or of `required`, a path parameter declared on the path or on the
operation all read the same).

Usage: scripts/openapi_compare.py OLD.json NEW.json [--descriptions]
  OLD, NEW   two openapi.json files (for example `git show REV:openapi.json > old.json`)
  --descriptions  list changed descriptions too (by default only counted)

Exit status 0 either way: the list is for a person to read, each difference intended or not.
"""
import json
import sys

METHODS = ("get", "put", "post", "delete", "patch", "options", "head")


def resolve(doc, node, seen=()):
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if ref.startswith("#/components/responses/"):
                # The shared answers are compared once, by name (below).
                return {"$response": ref.rsplit("/", 1)[1]}
            if ref in seen:
                return {"$recursive": ref}
            target = doc
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            resolved = resolve(doc, target, seen + (ref,))
            # OpenAPI 3.1: keywords beside a $ref apply too (a description, most often).
            return {**resolved, **resolve(doc, siblings, seen)} if siblings else resolved
        return {k: resolve(doc, v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(doc, v, seen) for v in node]
    return node


def normalize(node):
    """`const: x` reads as `enum: [x]`; `required` and `enum` as sets."""
    if isinstance(node, dict):
        out = {k: normalize(v) for k, v in node.items()}
        if "const" in out:
            out["enum"] = [out.pop("const")]
        for key in ("required", "enum"):
            if isinstance(out.get(key), list):
                out[key] = sorted(out[key], key=json.dumps)
        return out
    if isinstance(node, list):
        return [normalize(v) for v in node]
    return node


def operations(doc):
    out = {}
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in METHODS:
                continue
            op = dict(op)
            params = {(p["in"], p["name"]): p for p in resolve(doc, shared)}
            for p in resolve(doc, op.get("parameters", [])):
                params[(p["in"], p["name"])] = p
            if params:
                op["parameters"] = {f"{k[0]}:{k[1]}": v for k, v in sorted(params.items())}
            else:
                op.pop("parameters", None)
            out[f"{method.upper()} {path}"] = normalize(resolve(doc, op))
    return out


def short(value, limit=160):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff(old, new, where, out, descriptions):
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            here = f"{where}.{key}"
            if key == "description" and not descriptions and old.get(key) != new.get(key):
                if " ".join(str(old.get(key)).split()) != " ".join(str(new.get(key)).split()):
                    out.append(f"  ~ {here} (text{'' if key in old and key in new else ' added' if key in new else ' removed'})")
                continue
            if key not in new:
                out.append(f"  - {here}: {short(old[key])}")
            elif key not in old:
                out.append(f"  + {here}: {short(new[key])}")
            else:
                diff(old[key], new[key], here, out, descriptions)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            diff(a, b, f"{where}[{i}]", out, descriptions)
    elif old != new:
        if where.endswith(".description") and isinstance(old, str) and isinstance(new, str):
            if " ".join(old.split()) == " ".join(new.split()):
                return
            out.append(f"  ~ {where}" + (f": {short(old)} -> {short(new)}" if descriptions else " (text)"))
        else:
            out.append(f"  ~ {where}: {short(old)} -> {short(new)}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    descriptions = "--descriptions" in sys.argv
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    old, new = (json.load(open(a)) for a in args)
    total = 0
    for key in ("openapi", "info", "servers"):
        lines = []
        diff(old.get(key), new.get(key), key, lines, descriptions)
        for line in lines:
            print(line)
        total += len(lines)
    a, b = operations(old), operations(new)
    for name in sorted(set(a) | set(b)):
        if name not in b:
            print(f"{name}: only in the old document")
            total += 1
            continue
        if name not in a:
            print(f"{name}: only in the new document")
            total += 1
            continue
        lines = []
        diff(a[name], b[name], "", lines, descriptions)
        if lines:
            print(name)
            print("\n".join(lines))
            total += len(lines)
    for part in ("securitySchemes", "responses"):
        lines = []
        pair = [normalize(resolve(d, d.get("components", {}).get(part, {}))) for d in (old, new)]
        diff(*pair, f"components.{part}", lines, descriptions)
        if lines:
            print("\n".join(lines))
        total += len(lines)
    print(f"{len(a)} operations in the old document, {len(b)} in the new; {total} differences")


if __name__ == "__main__":
    main()
