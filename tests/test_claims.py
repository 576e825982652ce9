"""gan_lightning/claims.yaml agrees with the code, benchmarks/RESULTS.md, the README and `gan-lightning models`.

The checks are functions (``problems_*``) so that the last tests can show each of them failing on a
broken copy of the claims.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import pytest

from gan_lightning.claims import BEGIN, END, STATUSES, ClaimsError, load_claims, replace_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "benchmarks"))
from report import read_section  # noqa: E402  (benchmarks/ is not a package)

# Verdict words of RESULTS.md (lower case; the ** of bold text does not split them).
NEGATIVE = re.compile(r"\bnot (reached|separated|reproduced)\b|\bNOT\b")
POSITIVE = re.compile(r"(?<!not )(?<!NOT )\breached\b(?! \d)")  # "reached 238" is a number, not a verdict
PARTIAL = re.compile(r"\breached on [\w ]+ only\b")
CAUSE = re.compile(r"\bcause shown\b", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:e-?\d+)?")


def normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def claims():
    return load_claims()


def problems_models(claims, models) -> list[str]:
    return ([f"{name}: registered, no entry in claims.yaml" for name in models if name not in claims]
            + [f"{name}: an entry for no registered model" for name in claims if name not in models])


def problems_sections(claims, results: Path = RESULTS) -> list[str]:
    """Every named section exists, and every evidence string is in it (whitespace-normalised)."""
    problems = []
    for c in claims.values():
        if c.section is None:
            continue
        body = read_section(results, c.section)
        if body is None:
            problems.append(f"{c.model}: no section {c.section!r} in {results.name}")
            continue
        problems += [f"{c.model}: not in section {c.section!r}: {item!r}"
                     for item in c.evidence if normalise(item) not in normalise(body)]
    return problems


def verdicts(text: str) -> set[str]:
    found = set()
    for name, pattern in (("negative", NEGATIVE), ("positive", POSITIVE), ("partial", PARTIAL), ("cause", CAUSE)):
        if pattern.search(text):
            found.add(name)
    return found


def problems_status(claims) -> list[str]:
    """The status says what the evidence says (see claims.yaml's header)."""
    problems = []
    for c in claims.values():
        text = normalise(" ".join(c.evidence))
        v = verdicts(text)
        if c.status == "reached":
            ok = not v & {"negative", "partial", "cause"} and ("positive" in v or (not v and c.reading))
        elif c.status == "reached in part":
            ok = "cause" not in v and ("partial" in v or ("negative" in v and ("positive" in v or c.reading)))
        elif c.status == "cause shown":
            ok = "cause" in v
        elif c.status == "not reached":
            ok = "negative" in v and not v & {"partial", "cause"}
        else:  # not measured: numbers at most, no verdict
            ok = not v and c.reading is None
        if not ok:
            problems.append(f"{c.model}: status {c.status!r}, but the evidence's verdict words are "
                            f"{sorted(v) or 'none'}{' (with a reading)' if c.reading else ''}: {text[:160]!r}")
        if c.reading:  # a reading quotes the evidence's numbers, no others
            missing = [n for n in NUMBER.findall(c.reading) if n not in NUMBER.findall(text)]
            if missing:
                problems.append(f"{c.model}: the reading's {missing} are not numbers of its evidence")
    return problems


def test_every_registered_model_has_an_entry_and_no_entry_names_an_unknown_model(claims):
    from gan_lightning.models import known_models

    assert not problems_models(claims, known_models())


def test_every_section_exists_and_every_evidence_is_verbatim_in_it(claims):
    assert not problems_sections(claims)


def test_every_status_agrees_with_its_evidence(claims):
    assert set(STATUSES) >= {c.status for c in claims.values()}
    assert not problems_status(claims)


def test_the_readme_table_is_the_generated_one_inside_the_models_section(claims):
    readme = README.read_text(encoding="utf-8")
    assert replace_table(readme, claims) == readme, "stale: run python -m gan_lightning.claims --readme README.md"
    models_section = readme[readme.index("\n## Models\n"):readme.index("\n## Experiments\n")]
    assert BEGIN in models_section and END in models_section
    table = readme[readme.index(BEGIN):readme.index(END)]
    for c in claims.values():  # a row per model, with its status and section
        section = re.escape(f"[`{c.section}`]" if c.section else "-")
        assert re.search(rf"^\| {c.model} \| .* \| \**{c.status}\**.* \| {section}", table, re.M), c.model


def test_gan_lightning_models_prints_each_models_claim_status(claims, capsys):
    from gan_lightning.cli import main
    from gan_lightning.models import known_models

    main(["models"])
    lines = capsys.readouterr().out.splitlines()
    for name in known_models():
        line = next(line for line in lines if line.split()[0] == name)
        assert line.startswith(f"{name} ")
        c = claims[name]
        assert (f"[claim: {c.status}, RESULTS.md section {c.section}]" if c.section else f"[claim: {c.status}]") in line


def test_the_generator_rewrites_only_the_table(tmp_path, claims):
    from gan_lightning.claims import main

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n")
    assert main(["--readme", str(readme), "--check"]) == 1
    assert main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{END}\nafter\n") and "old table" not in text
    assert main(["--readme", str(readme), "--check"]) == 0
    readme.write_text("no markers\n")
    assert main(["--readme", str(readme)]) == 2


# ---------------------------------------------------------------------------- each check can fail
SYNTHETIC = """<!-- begin: sec -->
- A: label preservation 62.0 % with its cycle term vs 51.3 % without: claim reached.
- B: label preservation 10.1 % with its cycle term vs 10.1 % without: claim not reached.
- C: verdict **cause shown** (0 of 8 modes, the plain loop too).
- D: distance correlation 0.987 vs 0.960; label preservation 92.5 % vs 92.5 %: claim reached on distances only.
| E | same digit, same noise | 96.5% |
| E | same digit, independent noise | 12.5% |
| F | 600 (600) | 168.49 | 10 |
<!-- end: sec -->
"""


def synthetic_claims() -> dict:
    from gan_lightning.claims import Claim

    rows = SYNTHETIC.splitlines()[1:-1]
    return {
        "A": Claim("A", "a", "reached", "sec", (rows[0][2:],)),
        "B": Claim("B", "b", "not reached", "sec", (rows[1][2:],)),
        "C": Claim("C", "c", "cause shown", "sec", (rows[2][2:],)),
        "D": Claim("D", "d", "reached in part", "sec", (rows[3][2:],)),
        "E": Claim("E", "e", "reached", "sec", (rows[4], rows[5]), reading="96.5% vs 12.5%"),
        "F": Claim("F", "f", "not measured", "sec", (rows[6],)),
    }


def broken(claims, model, **changes):
    return {**claims, model: dataclasses.replace(claims[model], **changes)}


def test_the_checks_fail_on_a_broken_copy(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(SYNTHETIC)
    good = synthetic_claims()
    assert not problems_models(good, dict.fromkeys(good)) and not problems_sections(good, results)
    assert not problems_status(good)

    assert problems_models({k: v for k, v in good.items() if k != "B"}, dict.fromkeys(good)) == [
        "B: registered, no entry in claims.yaml"]
    assert problems_models({**good, "G": good["A"]}, dict.fromkeys(good)) == ["G: an entry for no registered model"]
    assert problems_sections(broken(good, "A", section="no_such_section"), results)
    assert problems_sections(broken(good, "A", evidence=("A: label preservation 64.0 % with",)), results)
    for model, status in [("A", "not reached"), ("A", "not measured"), ("B", "reached"), ("B", "reached in part"),
                          ("C", "not reached"), ("C", "reached"), ("D", "reached"), ("D", "not reached"),
                          ("E", "not measured"), ("F", "reached")]:
        assert problems_status(broken(good, model, status=status)), (model, status)
    assert problems_status(broken(good, "E", reading=None))  # numbers without a verdict word need a reading
    assert problems_status(broken(good, "E", reading="96.5% vs 10.0%"))  # 10.0 is not in its evidence
    assert problems_status(broken(good, "F", reading="168.49"))  # not measured: no reading


@pytest.mark.parametrize("text, message", [
    ("GAN: [unclosed\n", "not valid YAML (line"),
    ("- GAN\n", "expected a mapping of model name"),
    ("GAN: {claim: x, status: fine, section: mnist5k, evidence: y}\n", "GAN: status 'fine' is none of"),
    ("GAN: {claim: x, status: reached}\n", "GAN: status 'reached' needs a section and its evidence"),
    ("GAN: {status: reached, section: a, evidence: y}\n", "GAN: no claim"),
    ("GAN: {claim: x, status: reached, section: a, evidence: [1, 2]}\n", "GAN: evidence must be"),
    ("GAN: {claim: x, status: not measured, colour: red}\n", "GAN: unknown key(s) colour"),
    ("GAN: {claim: x, status: not measured}\nGAN: {claim: y, status: not measured}\n", "'GAN' given twice"),
])
def test_a_malformed_file_is_one_line(tmp_path, text, message):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    with pytest.raises(ClaimsError) as error:
        load_claims(path)
    assert message in str(error.value) and "\n" not in str(error.value), str(error.value)


def test_gan_lightning_models_reports_a_broken_claims_file_in_one_line(tmp_path, monkeypatch, capsys):
    from gan_lightning import claims as module
    from gan_lightning.cli import main

    (tmp_path / "claims.yaml").write_text("GAN: [\n")
    monkeypatch.setattr(module, "CLAIMS_FILE", tmp_path / "claims.yaml")
    with pytest.raises(SystemExit) as exit_:
        main(["models"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.startswith("gan-lightning: error: ") and "\n" not in err, err
