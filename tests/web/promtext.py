"""A strict parser of the Prometheus text exposition format 0.0.4, enough to validate /metrics.

prometheus_client is not a dependency of the project, so the tests carry their own checker:
every sample belongs to a family declared by a preceding `# TYPE`, names and label names are
valid, label values are properly quoted and escaped, values parse as floats, and no family or
series appears twice.
"""

from __future__ import annotations

import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "summary", "histogram", "untyped"}

Series = tuple[str, tuple[tuple[str, str], ...]]


class PromFormatError(AssertionError):
    pass


def _value(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def parse(text: str) -> dict[Series, float]:
    if not text.endswith("\n"):
        raise PromFormatError("exposition must end with a newline")
    families: dict[str, str] = {}
    samples: dict[Series, float] = {}
    current: str | None = None
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3] if len(parts) > 3 else ""
                if not re.fullmatch(NAME, name) or kind not in TYPES:
                    raise PromFormatError(f"line {number}: bad TYPE line {line!r}")
                if name in families:
                    raise PromFormatError(f"line {number}: family {name} declared twice")
                families[name] = kind
                current = name
            elif len(parts) >= 3 and parts[1] == "HELP" and not re.fullmatch(NAME, parts[2]):
                raise PromFormatError(f"line {number}: bad HELP line {line!r}")
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise PromFormatError(f"line {number}: not a sample line {line!r}")
        name, labels_text, value_text = m.group(1), m.group(2) or "", m.group(3)
        family = name
        if current and families.get(current) in ("summary", "histogram") and name in (
            f"{current}_sum", f"{current}_count", f"{current}_bucket"
        ):
            family = current  # a summary's _sum/_count belong to its block
        if family != current:
            raise PromFormatError(f"line {number}: sample {name} outside its family's block")
        labels = tuple(sorted(LABEL_RE.findall(labels_text)))
        try:
            value = _value(value_text)
        except ValueError as exc:
            raise PromFormatError(f"line {number}: bad value {value_text!r}") from exc
        key = (name, labels)
        if key in samples:
            raise PromFormatError(f"line {number}: duplicate series {key}")
        samples[key] = value
    return samples


def value(samples: dict[Series, float], metric: str, /, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]
