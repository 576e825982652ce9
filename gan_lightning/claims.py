"""Each model's measured claim and whether it is reached, read from ``gan_lightning/claims.yaml``.

That file is the one source of what `gan-lightning models` and the README's claims table say about a
model's claim: the paper's property in one line, its status, the ``benchmarks/RESULTS.md`` section the
status comes from and a verbatim fragment of that section (``tests/test_claims.py`` checks all of it
against the code, RESULTS.md and the README). ::

    python -m gan_lightning.claims --readme README.md           # rewrite the table between the markers
    python -m gan_lightning.claims --readme README.md --check   # exit 1 if the README's table is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from gan_lightning.errors import UsageError

CLAIMS_FILE = Path(__file__).resolve().with_name("claims.yaml")
STATUSES = ("reached", "reached in part", "cause shown", "not reached", "not measured")
BEGIN, END = "<!-- begin: claims -->", "<!-- end: claims -->"
KEYS = {"claim", "status", "section", "evidence", "reading"}


class ClaimsError(UsageError):
    """A malformed claims file or README markers; reported as one line."""


@dataclass(frozen=True)
class Claim:
    model: str
    claim: str
    status: str
    section: str | None
    evidence: tuple[str, ...]
    reading: str | None = None

    def summary(self) -> str:
        """``STATUS, RESULTS.md section NAME`` (the status alone where no section is named)."""
        return f"{self.status}, RESULTS.md section {self.section}" if self.section else self.status


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice (PyYAML keeps the last one silently)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"{key!r} given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _one_line_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\n" not in value.strip()


def load_claims(path: str | Path | None = None) -> dict[str, Claim]:
    """Every entry of the claims file (default: the package's), by model, in the file's order.

    A malformed file raises ClaimsError with one line that names the file, the model and the problem.
    """
    path = Path(CLAIMS_FILE if path is None else path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ClaimsError(f"cannot read the claims file {path}: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ClaimsError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not data:
        raise ClaimsError(f"{path}: expected a mapping of model name -> claim entry")
    claims = {}
    for model, entry in data.items():
        claims[str(model)] = _entry(path, str(model), entry)
    return claims


def _entry(path: Path, model: str, entry: object) -> Claim:
    def bad(problem: str) -> ClaimsError:
        return ClaimsError(f"{path}: {model}: {problem}")

    if not isinstance(entry, dict):
        raise bad("expected a mapping with claim, status, section and evidence")
    unknown = sorted(set(map(str, entry)) - KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
    for key in ("claim", "status"):
        if key not in entry:
            raise bad(f"no {key}")
    if not _one_line_text(entry["claim"]):
        raise bad("claim must be one line of text")
    status = entry["status"]
    if status not in STATUSES:
        raise bad(f"status {status!r} is none of: {', '.join(STATUSES)}")
    section = entry.get("section")
    if section is not None and not (isinstance(section, str) and re.fullmatch(r"[A-Za-z0-9_]+", section)):
        raise bad(f"section {section!r} is not a RESULTS.md section name")
    evidence = entry.get("evidence", ())
    evidence = (evidence,) if isinstance(evidence, str) else evidence
    if not isinstance(evidence, (list, tuple)) or not all(_one_line_text(item) for item in evidence):
        raise bad("evidence must be one line of text or a list of them")
    if status != "not measured" and (section is None or not evidence):
        raise bad(f"status {status!r} needs a section and its evidence")
    if evidence and section is None:
        raise bad("evidence without a section")
    reading = entry.get("reading")
    if reading is not None and not _one_line_text(reading):
        raise bad("reading must be one line of text")
    return Claim(model, entry["claim"].strip(), status, section, tuple(item.strip() for item in evidence),
                 reading.strip() if reading else None)


# ---------------------------------------------------------------------------- the README's table
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_table(claims: dict[str, Claim]) -> str:
    """The Markdown the README holds between its claims markers (markers excluded)."""
    counts = {status: sum(c.status == status for c in claims.values()) for status in STATUSES}
    lines = [
        f"{len(claims)} models: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n) + ".",
        "",
        "| model | claim | status | section |",
        "|---|---|---|---|",
    ]
    for c in claims.values():
        status = f"**{c.status}**" if c.status != "not measured" else c.status
        if c.reading:
            status += f" (the section's numbers, no verdict word: {_cell(c.reading)})"
        section = f"[`{c.section}`](benchmarks/RESULTS.md)" if c.section else "-"
        lines.append(f"| {c.model} | {_cell(c.claim)} | {status} | {section} |")
    return "\n".join(lines)


def replace_table(readme_text: str, claims: dict[str, Claim]) -> str:
    """``readme_text`` with the text between the claims markers replaced by ``readme_table(claims)``."""
    text = readme_text
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ClaimsError(f"the README needs one {BEGIN} line and, after it, one {END} line")
    head, rest = readme_text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{readme_table(claims)}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lightning.claims", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", required=True, help="the README whose claims table to rewrite")
    parser.add_argument("--claims", default=None, help="the claims file (default: the package's)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the table is stale")
    args = parser.parse_args(argv)
    try:
        claims = load_claims(args.claims)
        readme = Path(args.readme)
        old = readme.read_text(encoding="utf-8")
        new = replace_table(old, claims)
    except (ClaimsError, OSError) as error:
        print(f"gan_lightning.claims: error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if new != old:
            print(f"{readme}: the claims table is stale; run python -m gan_lightning.claims --readme {readme}",
                  file=sys.stderr)
            return 1
        return 0
    if new != old:
        readme.write_text(new, encoding="utf-8")
        print(f"{readme}: claims table rewritten ({len(claims)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
