"""Docker's ``.dockerignore`` rules, enough to copy a build context the way ``docker build`` does.

Docker matches each pattern against the path relative to the context root (anchored there, unlike
``.gitignore``), with Go's ``filepath.Match`` plus ``**`` for any number of folders; a pattern that
matches a folder leaves out everything in it; a later ``!pattern`` takes a path back in.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path, PurePosixPath


def _translate(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])  # Go's classes: [abc], [a-z], [^abc]
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            # Docker cleans each pattern: no leading or trailing slash, no "./".
            cleaned = str(PurePosixPath(line.removeprefix("!").strip().strip("/")))
            self.rules.append((negated, _translate(cleaned)))

    @classmethod
    def from_file(cls, path: Path) -> DockerIgnore:
        return cls(path.read_text())

    def ignored(self, relative: str) -> bool:
        """Whether the path (posix, relative to the context root) stays out of the build context."""
        parts = PurePosixPath(relative).parts
        # A path is out when it or any folder above it matches; the last matching rule decides.
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negated, rule in self.rules:
            if any(rule.match(prefix) for prefix in prefixes):
                result = not negated
        return result

    def copy_context(self, source: Path, target: Path) -> list[str]:
        """Copy what ``docker build`` would send from ``source`` into ``target``; return the files copied."""
        # Without "!" rules nothing inside a left-out folder can come back, so the walk skips it (.venv).
        can_prune = not any(negated for negated, _ in self.rules)
        copied = []
        for folder, subfolders, files in os.walk(source):
            base = Path(folder).relative_to(source)
            if can_prune:
                subfolders[:] = [name for name in subfolders if not self.ignored((base / name).as_posix())]
            for name in files:
                relative = (base / name).as_posix()
                if self.ignored(relative):
                    continue
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(folder) / name, destination)
                copied.append(relative)
        return sorted(copied)
