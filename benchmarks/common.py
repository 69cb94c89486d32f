"""What the benchmark scripts share."""

import json


def parse_overrides(items):
    """ZSSRConfig overrides from ``key=value`` strings, values read as JSON (numbers, true/false, lists)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = json.loads(value)
    return out
