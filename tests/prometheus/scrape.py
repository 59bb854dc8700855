"""Series a real `modelops serve` process exports, found by the traffic the test sent.

The tests never spell a label name of the server's metrics: a series is picked by the
count of requests the test sent to it (30 valid -> the series whose value is 30), and its
labels are copied as the server wrote them. So a renamed label or label value on the
server changes the input series of the alert tests, and the alerts stop matching.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def series(self, **change: str) -> str:
        """The series in promtool's `metric{label="value"}` notation, with some values changed."""
        return series_name(self.name, {**self.labels, **change})


@dataclass
class Scrape:
    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def parse(cls, *texts: str) -> "Scrape":
        out = cls()
        for text in texts:
            for family in text_string_to_metric_families(text):
                out.samples += [Sample(s.name, dict(s.labels), s.value) for s in family.samples]
        return out

    def since(self, before: "Scrape") -> "Scrape":
        """Each sample's growth since `before` (new series grow from 0): what the test's traffic added.

        Readiness polls and earlier scrapes land in the same counters, so only the growth over the
        test's own traffic identifies a series by the number of requests sent.
        """
        base = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in before.samples}
        return Scrape(
            [
                Sample(s.name, s.labels, s.value - base.get((s.name, tuple(sorted(s.labels.items()))), 0.0))
                for s in self.samples
            ]
        )

    def named(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name]

    def one(self, name: str, value: float) -> Sample:
        """The single sample of `name` whose value equals `value` (the traffic the test sent)."""
        hits = [s for s in self.named(name) if s.value == value]
        if len(hits) != 1:
            seen = [(s.labels, s.value) for s in self.named(name)]
            raise LookupError(f"expected one {name} sample with value {value}, found {len(hits)}: {seen}")
        return hits[0]

    def histogram(self, count: Sample) -> "Histogram":
        """The buckets and sum belonging to a histogram's `_count` sample."""
        base = count.name.removesuffix("_count")
        buckets = [
            s
            for s in self.named(f"{base}_bucket")
            if {k: v for k, v in s.labels.items() if k != "le"} == count.labels
        ]
        (total,) = [s for s in self.named(f"{base}_sum") if s.labels == count.labels]
        if not buckets:
            raise LookupError(f"no {base}_bucket series with the labels of {count.series()}")
        return Histogram(count, total, sorted(buckets, key=lambda b: float(b.labels["le"])))


@dataclass(frozen=True)
class Histogram:
    count: Sample
    sum: Sample
    buckets: list[Sample]

    def bounds(self) -> list[float]:
        return [float(b.labels["le"]) for b in self.buckets]


def series_name(name: str, labels: Labels) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def names(samples: Iterable[Sample]) -> set[str]:
    return {s.name for s in samples}
