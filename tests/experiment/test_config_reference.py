"""docs/config.md is generated from the config schema and must match it."""

import dataclasses
from pathlib import Path

import pytest

from poft.config import experiment
from poft.config.reference import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_the_page_matches_the_schema():
    assert PAGE.read_text() == render(), (
        "docs/config.md differs from the schema: run `make config-docs` "
        "(python -m poft.config.reference > docs/config.md)")


def test_every_key_of_the_schema_is_on_the_page():
    text = PAGE.read_text()
    sections = [experiment.ExperimentSection, experiment.DataSection, experiment.ModelSection,
                experiment.TrainingSection, experiment.AggregationSection,
                experiment.LedgerSection, experiment.NetworkSection, experiment.CrosschainSection,
                experiment.LinkSection]
    for cls in sections:
        for field in dataclasses.fields(cls):
            assert field.metadata.get("doc"), f"{cls.__name__}.{field.name} has no doc"
            assert f"| `{field.name}` |" in text


def test_a_field_without_meaning_is_refused():
    from poft.config.reference import section
    from poft.config.schema import bounded

    @dataclasses.dataclass
    class Undocumented:
        size: int = bounded(1, min=0)

    with pytest.raises(ValueError, match="Undocumented.size has no doc"):
        section("[x]", Undocumented)


def test_fedavg_is_named():
    assert "mean: FedAvg" in PAGE.read_text()
