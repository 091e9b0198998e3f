"""Parameters: every mistake names the key and the file; nothing starts on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from s3compliance.params import KEYS, SCHEMA, Params, ParamsError, load_params, validate

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions: [us-east-1\n", "not valid YAML at line 2"),
        ("- just\n- a list\n", "expected a mapping of parameters, got list"),
        ("region: us-east-1\n", "unknown key 'region'"),
        ("max_workers: many\n", "key 'max_workers': 'many' is not of type 'integer'"),
        ("max_workers: 0\n", "key 'max_workers': 0 is less than the minimum of 1"),
        ("lifecycle_max_age_days: 90.5\n", "key 'lifecycle_max_age_days'"),
        ("page_size: 20000\n", "key 'page_size': 20000 is greater than the maximum"),
        ("checks: [versioning, encrypton]\n", "unknown check id(s) 'encrypton'"),
        ("profile: strict\n", "key 'profile'"),
        ("regions: [us-east-1, mars-north-1]\n", "unknown region(s) 'mars-north-1'"),
        ("regions: ['*', us-east-1]\n", "'*' (all regions) must stand alone"),
        ("regions: []\n", "key 'regions'"),
        ("allowed_sse_algorithms: [DES]\n", "key 'allowed_sse_algorithms'[0]"),
        ("endpoint_url: localhost:5000\n", "key 'endpoint_url'"),
        ("run_id: ../escape\n", "key 'run_id'"),
        ("include: [1]\n", "key 'include'[0]"),
        ("run_date: 2026-13-45\n", "key 'run_date'"),
        ("run_date: yesterday\n", "key 'run_date': 'yesterday' is not a 'date'"),
        ("demo: yes please\n", "key 'demo'"),
    ],
)
def test_bad_params_name_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cannot read the params file"):
        load_params(tmp_path / "nope.yaml")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_params(write(tmp_path, "# nothing\n")) == Params()


def test_overrides_win_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "run_id: from-file\nmax_workers: 4\n")
    params = load_params(path, run_id="from-cli", output_dir=None)
    assert (params.run_id, params.max_workers, params.output_dir) == ("from-cli", 4, "output")
    with pytest.raises(ParamsError, match="key 'endpoint_url'"):
        load_params(path, endpoint_url="ftp://nowhere")


def test_all_regions_and_other_partitions_are_accepted() -> None:
    assert validate({"regions": ["*"]}).all_regions
    assert (
        validate({"regions": ["cn-north-1", "us-gov-west-1", "eu-west-3"]}).regions[0]
        == "cn-north-1"
    )


def test_dates_stay_text_and_date_objects_are_accepted(tmp_path: Path) -> None:
    import datetime

    assert load_params(write(tmp_path, "run_date: 2026-11-29\n")).run_date == "2026-11-29"
    assert validate({"run_date": datetime.date(2026, 1, 2)}).run_date == "2026-01-02"


def test_schema_and_dataclass_declare_the_same_keys() -> None:
    assert set(SCHEMA["properties"]) == set(KEYS)


@pytest.mark.parametrize(
    "path",
    # exceptions.*.yaml are exceptions files (tests/test_accepted.py), not parameters
    sorted(p for p in (ROOT / "params").glob("*.yaml") if not p.name.startswith("exceptions.")),
    ids=lambda p: p.name,
)
def test_shipped_params_files_are_valid(path: Path) -> None:
    load_params(path)
    assert set(yaml.safe_load(path.read_text())) <= set(KEYS)


def test_default_yaml_documents_every_key_with_its_default() -> None:
    data = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    assert set(data) == set(KEYS)
    assert validate(data) == Params()


def test_default_yaml_is_the_schema_s_descriptions_and_defaults() -> None:
    """Each parameter's description lives once, in the schema: ``params/default.yaml`` is made
    from it (``default_yaml()``), so a key added to the schema without a description, or a
    description edited in the file only, fails here."""
    from s3compliance.params import SCHEMA, default_yaml, yaml_value

    text = (ROOT / "params" / "default.yaml").read_text()
    assert text == default_yaml(), "params/default.yaml is made from the schema: run `make params`"
    for key in KEYS:
        description = SCHEMA["properties"][key]["description"]
        assert description and description[0] != " ", key
        line = next(line for line in text.splitlines() if line.startswith(f"{key}:"))
        assert line.endswith(f" # {description}"), key
    assert yaml_value(["no", "aws:kms", "plain"]) == '["no", "aws:kms", plain]'
    assert yaml.safe_load(f"x: {yaml_value(['no', 'aws:kms'])}") == {"x": ["no", "aws:kms"]}
    assert yaml_value(None) == "null" and yaml_value(False) == "false" and yaml_value(2.5) == "2.5"


def test_remediation_parameters() -> None:
    from s3compliance.params import ParamsError, validate

    got = validate({"remediate": ["versioning"], "lifecycle_action": "expire"}, "p.yaml")
    assert got.remediate == ["versioning"] and got.lifecycle_action == "expire"
    with pytest.raises(ParamsError, match="key 'remediate': unknown check id"):
        validate({"remediate": ["versoning"]}, "p.yaml")
    with pytest.raises(ParamsError, match="S3 refuses a transition to STANDARD_IA before 30 days"):
        validate({"lifecycle_storage_class": "STANDARD_IA", "lifecycle_max_age_days": 7}, "p.yaml")
