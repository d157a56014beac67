"""`python -m review new` lays out a review that runs; `review update` never loses an edit."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import nbformat
import pytest

from review.errors import OptionError
from review.paths import PACKAGE_DIR, toolkit_notebooks_dir
from review.protocol import load_protocol
from review.runner import find_notebooks
from review.scaffold import new_review, update_review
from review.status import review_status

from conftest import REPO


def _params(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cell.source


def test_new_review_lays_out_every_folder_and_file(tmp_path: Path) -> None:
    root = tmp_path / "my-review"
    report = new_review(root)
    for rel in (
        "protocol.yaml",
        "README.md",
        ".gitignore",
        "dedup/overrides.csv",
        "extraction/studies.csv",
        "extraction/outcomes.csv",
        ".review-template.json",
    ):
        assert (root / rel).is_file(), rel
    for folder in ("search", "imports", "dedup", "screening", "extraction", "notebooks"):
        assert (root / folder).is_dir(), folder
    assert "protocol.yaml" in report.written and "notebooks/00-index.ipynb" in report.written
    assert "output/" in (root / ".gitignore").read_text().splitlines()
    readme = (root / "README.md").read_text()
    assert readme.startswith("# my-review\n")
    assert "python -m review run --review ." in readme and "$" not in readme.split("```")[0]
    # header-only tables: the columns the loaders expect, no row
    from review.dedup import OVERRIDE_COLUMNS

    header = (root / "dedup" / "overrides.csv").read_text().splitlines()
    assert header == [",".join(OVERRIDE_COLUMNS)]


def test_the_protocol_template_is_valid_and_its_placeholders_are_counted(tmp_path: Path) -> None:
    root = tmp_path / "r"
    new_review(root)
    protocol = load_protocol(root / "protocol.yaml")
    assert protocol.title.startswith("TODO")
    (pubmed,) = [db for db in protocol.databases if db.name == "PubMed"]
    assert pubmed.snapshot and pubmed.snapshot.startswith("pubmed-") and "$" not in pubmed.snapshot
    assert protocol.schema_version == 2
    assert list(protocol.analyses) == ["main"]
    assert list(protocol.covariates) == ["design", "year", "risk_of_bias"]
    # the extraction tables' headers are the ones this protocol asks for
    studies = (root / "extraction" / "studies.csv").read_text().splitlines()
    assert studies == ["study_id,label,pmid,report_pmids,note,design,year"]
    from review.extraction import ESTIMATE_COLUMNS, OUTCOME_COLUMNS

    outcomes = (root / "extraction" / "outcomes.csv").read_text().splitlines()
    assert outcomes == [",".join((*OUTCOME_COLUMNS, *ESTIMATE_COLUMNS))]
    step = review_status(root).step("protocol")
    assert step.state == "in progress" and "TODO placeholder(s) left" in step.detail


def test_title_is_written_into_the_protocol(tmp_path: Path) -> None:
    new_review(tmp_path / "r", title='Stroke in "untreated" atrial fibrillation: a review')
    p = load_protocol(tmp_path / "r" / "protocol.yaml")
    assert p.title == 'Stroke in "untreated" atrial fibrillation: a review'
    with pytest.raises(OptionError, match="one non-empty line"):
        new_review(tmp_path / "s", title="two\nlines")
    assert not (tmp_path / "s").exists()


def test_the_notebooks_are_the_toolkits_pointed_at_the_review(tmp_path: Path) -> None:
    root = tmp_path / "r"
    new_review(root)
    copies = find_notebooks(root / "notebooks")
    originals = find_notebooks(toolkit_notebooks_dir())
    assert [p.name for p in copies] == [p.name for p in originals] and len(copies) >= 8
    for copy, original in zip(copies, originals):
        params = _params(copy)
        assert 'REVIEW_DIR = ".."' in params and 'OUTPUT_DIR = "../output"' in params
        assert "../data" not in params
        a, b = nbformat.read(copy, as_version=4), nbformat.read(original, as_version=4)
        assert [c.source for c in a.cells if "parameters" not in c.metadata.get("tags", [])] == [
            c.source for c in b.cells if "parameters" not in c.metadata.get("tags", [])
        ]
        assert all(c.get("outputs", []) == [] for c in a.cells)


def test_an_existing_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(OptionError, match="not an empty folder"):
        new_review(tmp_path / "taken")
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    new_review(tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / "protocol.yaml").is_file()


def test_update_replaces_unedited_files_and_keeps_edited_ones(tmp_path: Path) -> None:
    root = tmp_path / "r"
    new_review(root)
    manifest = root / ".review-template.json"
    recorded = json.loads(manifest.read_text())
    nb1 = root / "notebooks" / "01-query.ipynb"
    nb3 = root / "notebooks" / "03-title-abstract-screening.ipynb"
    current_01 = nb1.read_bytes()

    # an older toolkit wrote 01 differently, and the reviewer never touched it
    import hashlib

    old = current_01.replace(b"Literature search", b"Old literature search")
    nb1.write_bytes(old)
    recorded["files"]["notebooks/01-query.ipynb"] = hashlib.sha256(old).hexdigest()
    manifest.write_text(json.dumps(recorded))
    # the reviewer edited 03; deleted the README; edited the protocol
    edited = nb3.read_bytes().replace(b'REVIEWER = \\"A\\"', b'REVIEWER = \\"B\\"')
    assert edited != nb3.read_bytes()
    nb3.write_bytes(edited)
    (root / "README.md").unlink()
    (root / "protocol.yaml").write_text((root / "protocol.yaml").read_text() + "# mine\n")
    protocol_before = (root / "protocol.yaml").read_bytes()

    report = update_review(root)
    assert set(report.written) == {"notebooks/01-query.ipynb", "README.md"}
    assert report.kept == ("notebooks/03-title-abstract-screening.ipynb",)
    assert nb1.read_bytes() == current_01
    assert nb3.read_bytes() == edited  # the edit survives
    assert (nb3.parent / (nb3.name + ".new")).is_file()  # the toolkit's version beside it
    assert (root / "README.md").is_file()
    assert (root / "protocol.yaml").read_bytes() == protocol_before  # never touched
    assert "kept" in report.summary() and ".new" in report.summary()
    # the .new file is not a numbered notebook: a run does not pick it up
    assert all(p.suffix == ".ipynb" for p in find_notebooks(root / "notebooks"))
    # and a second update leaves everything as it is
    again = update_review(root)
    assert again.written == () and again.kept == ("notebooks/03-title-abstract-screening.ipynb",)


def test_update_needs_a_review_folder(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"holds no protocol\.yaml"):
        update_review(tmp_path)


def test_command_line_new_and_update(tmp_path: Path, capsys) -> None:
    from review.__main__ import main

    assert main(["new", str(tmp_path / "cli"), "--title", "A title"]) == 0
    out = capsys.readouterr().out
    assert "wrote     protocol.yaml" in out and "Next: edit" in out
    assert main(["new", str(tmp_path / "cli")]) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["update", str(tmp_path / "cli")]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_the_wheel_carries_every_package_and_the_notebooks() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in PACKAGE_DIR.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk <= packages, f"packages missing from pyproject.toml: {on_disk - packages}"
    # the notebooks have one source, notebooks/, mapped into the wheel as review/_notebooks
    assert config["package-dir"] == {"review._notebooks": "notebooks"}
    assert not (PACKAGE_DIR / "_notebooks").exists()  # no second copy in the checkout
    assert toolkit_notebooks_dir() == REPO / "notebooks"
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert "_template/*" in data["review"]
    assert {p.name for p in (PACKAGE_DIR / "_template").iterdir()} == {
        "protocol.yaml",
        "README.md",
        "gitignore",
    }


def test_status_names_the_notebooks_an_update_would_replace(tmp_path: Path) -> None:
    import hashlib

    root = tmp_path / "r"
    new_review(root)
    assert review_status(root).outdated == ()
    nb = root / "notebooks" / "02-deduplication.ipynb"
    old = nb.read_bytes().replace(b"De-duplication", b"Older de-duplication")
    nb.write_bytes(old)  # as an older toolkit wrote it, never edited since
    manifest = json.loads((root / ".review-template.json").read_text())
    manifest["files"]["notebooks/02-deduplication.ipynb"] = hashlib.sha256(old).hexdigest()
    (root / ".review-template.json").write_text(json.dumps(manifest))
    st = review_status(root)
    assert st.outdated == ("notebooks/02-deduplication.ipynb",)
    assert "python -m review update replaces them" in st.summary()
    update_review(root)
    assert review_status(root).outdated == ()
