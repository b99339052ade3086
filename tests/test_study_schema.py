"""The study file read by pydantic: its JSON Schema (``amal study --schema``) and its one-line errors.

``jsonschema`` is not a dependency, so :func:`check` below validates YAML data against the printed
schema with the keywords pydantic writes into it, and fails on any other keyword rather than skip it.
"""

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import pytest
import yaml
from pydantic import BaseModel, Field, model_validator

from amal_lightning.command_line.main import main
from amal_lightning.errors import AmalError
from amal_lightning.studies.spec import StudyFile, load_study, study_schema
from amal_lightning.studies.validation import FileModel, validated
from tests.helpers import CONFIGS

SHIPPED = sorted((CONFIGS / "studies").glob("*.yaml"))
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
KEYWORDS = {"type", "properties", "additionalProperties", "required", "items", "anyOf", "oneOf", "discriminator"}
KEYWORDS |= {"$ref", "const", "enum", "minimum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "minLength"}
KEYWORDS |= {"minProperties", "pattern", "uniqueItems", "default", "title", "description", "$defs", "$schema"}


def check(schema: dict[str, Any], node: dict[str, Any], value: Any) -> list[str]:
    """The reasons ``value`` does not validate against ``node`` (none: it does)."""
    assert set(node) <= KEYWORDS, set(node) - KEYWORDS  # a keyword this checker would skip
    if "$ref" in node:
        return check(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[-1]], value)
    for key in ("anyOf", "oneOf"):  # then the keywords beside them
        passing = [branch for branch in node.get(key, []) if not check(schema, branch, value)]
        if key in node and not (passing if key == "anyOf" else len(passing) == 1):
            return [f"{value!r}: no {key} branch"]
    kind = node.get("type")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("integer", "number"):
        if not number or (kind == "integer" and not isinstance(value, int)):
            return [f"{value!r} is not an {kind}"]
        low, above, below = node.get("minimum"), node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
        if (low is not None and value < low) or (above is not None and value <= above):
            return [f"{value!r} is too small"]
        return [f"{value!r} is too large"] if below is not None and value >= below else []
    if kind is not None and not isinstance(value, TYPES[kind]):
        return [f"{value!r} is not of type {kind}"]
    if "const" in node and value != node["const"] or "enum" in node and value not in node["enum"]:
        return [f"{value!r} is not among {node.get('enum', [node.get('const')])}"]
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0) or not re.search(node.get("pattern", ""), value):
            return [f"{value!r} is too short or does not match {node.get('pattern')}"]
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0) or node.get("uniqueItems") and len(set(map(repr, value))) < len(value):
            return [f"{value!r}: too few or repeated items"]
        return [reason for item in value for reason in check(schema, node.get("items", {}), item)]
    if isinstance(value, dict):
        reasons = [f"missing {key!r}" for key in node.get("required", []) if key not in value]
        if len(value) < node.get("minProperties", 0):
            reasons.append("too few keys")
        for key, item in value.items():
            below = node.get("properties", {}).get(key, node.get("additionalProperties", True))
            if below is False:
                reasons.append(f"unknown key {key!r}")
            elif below is not True:
                reasons += [f"{key}: {reason}" for reason in check(schema, below, item)]
        return reasons
    return []


def printed_schema(capsys) -> dict[str, Any]:
    try:
        main(["study", "--schema"])
    except SystemExit as stop:
        assert stop.code in (0, None)
    return json.loads(capsys.readouterr().out)


def test_amal_study_schema_prints_the_models_json_schema(capsys):
    schema = printed_schema(capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads(study_schema()) and schema["additionalProperties"] is False
    assert list(schema["properties"]) == list(StudyFile.model_fields)
    assert {"name", "config", "variants", "grid", "search", "seeds", "comparisons", "figures"} <= set(
        schema["properties"]
    )
    assert schema["required"] == ["config"]
    assert all(schema["properties"][key].get("description") for key in schema["properties"])  # an editor shows them


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_every_shipped_study_file_validates_against_the_printed_schema(capsys, path):
    schema = printed_schema(capsys)
    data = yaml.safe_load(path.read_text())
    assert check(schema, schema, data) == []
    StudyFile.model_validate(data)  # and against the model the schema is printed from


SEARCH = {
    "params": {"a": {"type": "float", "low": 1, "high": 2, "log": True}},
    "n_trials": 1,
    "metric": "best val/loss",
}
MISSPELT = {**SEARCH, "params": {"a": {"type": "float", "low": 1, "high": 2, "lg": True}}}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"seedz": [0]}, "unknown key 'seedz'"),
        ({"seeds": [0, 0]}, "seeds: "),
        ({"jobs": 0}, "jobs: "),
        ({"variants": None, "search": MISSPELT}, "search: "),
    ],
)
def test_the_schema_rejects_a_misspelt_key_or_a_bad_value(capsys, change, where):
    schema = printed_schema(capsys)
    data = {"config": "c.yaml", "variants": {"a": {}}, **change}
    assert any(reason.startswith(where) for reason in check(schema, schema, data)), check(schema, schema, data)
    assert check(schema, schema, {"config": "c.yaml", "seeds": [0, 1], "jobs": "auto", "search": SEARCH}) == []
    with pytest.raises(AmalError):
        validated(StudyFile, "f.yaml", data)  # as the model refuses it


def test_a_misspelt_key_is_one_line_from_amal_study_too(workdir, capsys):
    study = workdir / "typo.yaml"
    study.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{a: {{}}}}\nseedz: [0, 1]\n")
    with pytest.raises(SystemExit) as stop:
        main(["study", str(study)])
    assert stop.value.code == 1
    error = capsys.readouterr().err
    assert error == f"amal: error: {study}: unknown key 'seedz' (known: {', '.join(StudyFile.model_fields)})\n"
    assert not Path("logs").exists()


def test_seeds_are_a_typed_field_of_the_study(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{a: {{}}, b: {{}}}}\nseeds: [3, 1]\n")
    loaded = load_study(study)
    assert loaded.seeds == [3, 1] and loaded.seeded and [v.seed for v in loaded.variants] == [3, 1, 3, 1]
    study.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{a: {{}}}}\njobs: auto\n")
    assert load_study(study).seeds is None and not load_study(study).seeded and load_study(study).jobs == "auto"


class Range(FileModel):
    type: Literal["range"]
    low: int = Field(description="the lowest value, an integer")

    @model_validator(mode="after")
    def small(self) -> "Range":
        if self.low > 9:
            raise ValueError("low must be at most 9")
        return self


class Word(FileModel):
    type: Literal["word"]
    text: str


class Block(FileModel):
    tagged: dict[str, Annotated[Union[Range, Word], Field(discriminator="type")]] = Field(default_factory=dict)
    count: int = Field(0, gt=0, description="a positive count")
    plain: Optional[int] = None
    inner: Optional[Range] = None


class Top(FileModel):
    block: Block
    names: list[str] = Field(default_factory=list)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"block": {}, "extra": 1}, "f.yaml: unknown key 'extra' (known: block, names)"),
        ({}, "f.yaml: missing key 'block'"),
        (
            {"block": {"inner": {"type": "range"}}},
            "f.yaml, block, inner: missing key 'low' (the lowest value, an integer)",
        ),
        ({"block": {"inner": {"type": "range", "low": 10}}}, "f.yaml, block, inner: low must be at most 9"),
        (
            {"block": {"tagged": {"a": {"type": "x"}}}},
            "f.yaml, block, tagged, a: type must be one of range, word, got 'x'",
        ),
        ({"block": {"tagged": {"a": {}}}}, "f.yaml, block, tagged, a: missing key 'type' (range, word)"),
        (
            {"block": {"tagged": {"a": {"type": "word", "txt": ""}}}},
            "f.yaml, block, tagged, a: unknown key 'txt' (known: type, text)",
        ),
        ({"block": {"count": 0}}, "f.yaml, block, count: expected a positive count, got 0"),
        ({"block": 3}, "f.yaml, block: expected a mapping with tagged, count, plain, inner, got 3"),
        ({"block": {"plain": "x"}}, "f.yaml, block, plain: input should be a valid integer, unable to parse string"),
        ({"block": {}, "names": ["a", [1]]}, "f.yaml, names, item 2: input should be a valid string, got [1]"),
        ({"block": {"plain": "x" * 100}}, "got '" + "x" * 76 + "..."),
    ],
)
def test_each_form_of_a_refusal_is_one_line_naming_the_file_and_the_key(data, message):
    with pytest.raises(AmalError) as raised:
        validated(Top, "f.yaml", data)
    text = str(raised.value)
    assert message in text and "\n" not in text, text


def test_a_variant_s_options_are_named_by_the_variant(tmp_path):
    study = tmp_path / "v.yaml"
    study.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{fast one: 3}}\n")
    with pytest.raises(AmalError, match=f"^{re.escape(str(study))}, variants, variant 'fast one': expected the"):
        load_study(study)


def test_the_block_models_are_pydantic_models_with_forbidden_extras():
    assert issubclass(StudyFile, BaseModel) and StudyFile.model_config["extra"] == "forbid"


def test_docs_studies_md_names_every_key_of_the_schema():
    schema = json.loads(study_schema())
    keys = set(schema["properties"])
    for model in schema["$defs"].values():
        keys |= set(model.get("properties", {}))
    kinds = {
        model["properties"]["type"].get("const")
        for model in schema["$defs"].values()
        if "type" in model.get("properties", {})
    }
    kinds |= {
        model["properties"]["kind"].get("const")
        for model in schema["$defs"].values()
        if "kind" in model.get("properties", {})
    }
    text = (CONFIGS.parent / "docs" / "STUDIES.md").read_text()
    assert (
        sorted(word for word in keys | kinds - {None} if f"`{word}`" not in text and f"\n### {word}" not in text) == []
    )
    assert "amal study --schema > study.schema.json" in text and "# yaml-language-server: $schema=" in text
