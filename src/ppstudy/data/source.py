"""What data a run used: the dataset, the files read and their checksums, in one record.

Every loader returns a :class:`DataSource` beside its arrays; a chapter hands it to its
:class:`~ppstudy.kernel.run.Run`, which puts it into ``results.json`` and the book into the chapter's
provenance, so that a reader knows exactly what a number was computed on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataFile:
    """One file a run read: its name (relative to the dataset's cache directory) and checksums."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (("name", self.name), ("md5", self.md5), ("sha256", self.sha256), ("bytes", self.bytes))
            if v is not None
        }


@dataclass(frozen=True)
class DataSource:
    """A run's data: ``dataset`` (e.g. "CIFAR-10"), ``description`` (what was drawn from it: subsets,
    sizes, seeds), the ``files`` read with their checksums, and whether it is stand-in ``smoke`` data."""

    dataset: str
    description: str
    files: tuple[DataFile, ...] = field(default_factory=tuple)
    smoke: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "description": self.description,
            "files": [f.to_dict() for f in self.files],
            "smoke": self.smoke,
        }

    def combine(self, other: DataSource, description: str | None = None) -> DataSource:
        """Two sources used together (e.g. CIFAR-10 for one table, Yale B faces for another)."""
        files = tuple(dict.fromkeys(self.files + other.files))
        dataset = self.dataset if self.dataset == other.dataset else f"{self.dataset} + {other.dataset}"
        return DataSource(
            dataset, description or f"{self.description}; {other.description}", files, self.smoke and other.smoke
        )

    def __str__(self) -> str:
        return f"{self.dataset}: {self.description}"


def smoke(description: str) -> DataSource:
    """Stand-in data bundled with scikit-image / scikit-learn (the smoke profile): no files to checksum."""
    return DataSource("smoke data (bundled samples, not the paper's data)", description, (), True)
