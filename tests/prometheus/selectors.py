"""The vector selectors of a PromQL expression, and whether scraped series satisfy them.

Enough PromQL for the expressions in this repository: `metric{label op "value", ...}` with
the four matcher operators; regex matchers are fully anchored, as in Prometheus.
"""

import re
from dataclasses import dataclass

from tests.prometheus.scrape import Sample

_SELECTOR = re.compile(r"\b(modelops_\w+)\s*(?:\{([^}]*)\})?")
_MATCHER = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def matches(self, sample: Sample) -> bool:
        return sample.name == self.metric and all(m.matches(sample.labels) for m in self.matchers)

    def __str__(self) -> str:
        return f"{self.metric}{{{', '.join(map(str, self.matchers))}}}"


def selectors(expr: str) -> list[Selector]:
    out = []
    for m in _SELECTOR.finditer(expr):
        body = m.group(2) or ""
        matchers = tuple(Matcher(*x.groups()) for x in _MATCHER.finditer(body))
        if "".join(x.group(0) for x in _MATCHER.finditer(body)).strip() != body.strip():
            raise ValueError(f"cannot parse the matchers of {m.group(0)!r}")
        out.append(Selector(m.group(1), matchers))
    return out


def unmatched(expr: str, samples: list[Sample]) -> list[str]:
    """The selectors of `expr` that select no scraped series."""
    return [str(s) for s in selectors(expr) if not any(s.matches(x) for x in samples)]
