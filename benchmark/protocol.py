"""Evaluation protocols as data: subject groups, gallery and probe conditions (``benchmark/protocols/*.toml``).

A protocol names disjoint subject groups with their sizes for CASIA-B's 124 subjects. Worlds with another
number of subjects get the sizes scaled in proportion (largest-remainder rounding, every group at least one
subject), and subjects are assigned to groups in sorted order, group after group, as listed in the file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmark.config import ConfigError, load_toml

PROTOCOL_DIR = Path(__file__).parent / "protocols"


@dataclasses.dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    groups: dict[str, int]
    gallery: tuple[str, ...]
    probes: dict[str, tuple[str, ...]]
    views: tuple[int, ...]
    test_group: str = "test"
    reference_subjects: int = 124

    def __post_init__(self) -> None:
        if not self.groups or any(v < 1 for v in self.groups.values()):
            raise ValueError(f"groups must be non-empty with sizes >= 1, got {self.groups}")
        if self.test_group not in self.groups:
            raise ValueError(f"test_group {self.test_group!r} is not one of the groups {list(self.groups)}")
        overlap = set(self.gallery) & {c for conds in self.probes.values() for c in conds}
        if overlap:
            raise ValueError(f"conditions {sorted(overlap)} are both gallery and probe")

    def group_sizes(self, num_subjects: int) -> dict[str, int]:
        """Group sizes for a world of ``num_subjects`` (the file's sizes when it equals the reference)."""
        names = list(self.groups)
        if num_subjects < len(names):
            raise ValueError(
                f"protocol {self.name!r} needs at least {len(names)} subjects (one per group), got {num_subjects}"
            )
        total = sum(self.groups.values())
        exact = [num_subjects * self.groups[n] / total for n in names]
        sizes = [max(1, int(e)) for e in exact]
        # Largest remainder: hand out (or take back) subjects where rounding lost (or gained) most.
        while sum(sizes) < num_subjects:
            i = max(range(len(names)), key=lambda j: (exact[j] - sizes[j], -j))
            sizes[i] += 1
        while sum(sizes) > num_subjects:
            i = max((j for j in range(len(names)) if sizes[j] > 1), key=lambda j: (sizes[j] - exact[j], j))
            sizes[i] -= 1
        return dict(zip(names, sizes, strict=True))

    def assign(self, subjects: Sequence[str]) -> dict[str, list[str]]:
        """Split ``subjects`` (sorted here) into the protocol's groups, in the file's order."""
        ordered = sorted(set(subjects))
        if len(ordered) != len(subjects):
            raise ValueError("subjects contain duplicates")
        out: dict[str, list[str]] = {}
        start = 0
        for name, size in self.group_sizes(len(ordered)).items():
            out[name] = ordered[start : start + size]
            start += size
        return out


def available() -> list[str]:
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.toml"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A bundled protocol by name (``paper``, ``lt``) or a TOML file of the same form."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROTOCOL_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ConfigError(f"unknown protocol {str(name_or_path)!r} (bundled: {', '.join(available())})")
    return load_toml(Protocol, path)


def tree_subjects(root: str | os.PathLike[str]) -> list[str]:
    """The subjects of a CASIA-B tree (or synthetic world): its subject folders (``001``, ...), sorted.

    Folders count whether or not they hold a readable sequence, so an emptied or damaged subject keeps its place
    and every other subject stays in its group.
    """
    from benchmark.data.casia import CasiaB, subject_dirs

    return sorted(subject_dirs(CasiaB(root).root))


def protocol_groups(root: str | os.PathLike[str], protocol: Protocol) -> dict[str, list[str]]:
    """The protocol's groups over the subjects of the clean tree ``root`` (:func:`tree_subjects`).

    The one split that training, anonymizing, scoring and evaluation all use: computed from anything else, a
    subject folder without a readable sequence could shift the groups and put a training subject into the test
    group.
    """
    return protocol.assign(tree_subjects(root))


def check_training_subjects(what: str, trained_on: Iterable[str] | None, test_subjects: Iterable[str]) -> None:
    """Refuse a model (``what``: e.g. ``"recognizer zheng2011"``) whose recorded training subjects meet the test
    group; ``trained_on`` None (a checkpoint that records none) is accepted."""
    overlap = sorted(set(trained_on or ()) & set(test_subjects))
    if overlap:
        raise ValueError(
            f"{what} was trained on test subjects {overlap[:8]}{' ...' if len(overlap) > 8 else ''}; train it on "
            "the protocol's training groups of this data (gaitbench train ...) or pick another protocol"
        )
