"""A study file read by pydantic, and pydantic's ValidationError said as the project's one-line errors.

The study file's blocks are pydantic models (:class:`FileModel`: a misspelt key is refused,
``extra="forbid"``); this module is the one place that turns a refusal into an
:class:`~amal_lightning.errors.AmalError`. Pydantic reports each error with a location (the keys
and list positions from the file's top, with the tags and member names of unions among them), a
type and the input. One line is said, for the first error (an unknown key before any other: a key
missing beside it is the same typo): the file, the path of keys to the value (``hs.yaml, search,
n_trials``), and what was expected there, in the words of the field's ``description``, which the
JSON Schema (``amal study --schema``) carries too, so an editor shows the same words on hovering
the key. The forms, each tested in tests/test_study_schema.py::

    FILE, PATH: unknown key 'KEY' (known: A, B, C)
    FILE, PATH: missing key 'KEY' (DESCRIPTION)
    FILE, PATH: MESSAGE                            (a check of the models: low (1) must be below high (1))
    FILE, PATH: type must be one of float, int, categorical, got 'x'
    FILE, PATH: expected DESCRIPTION, got VALUE
    FILE, PATH: expected a mapping with A, B, C, got VALUE
    FILE, PATH: PYDANTIC'S MESSAGE, got VALUE      (a field without a description)
"""

from typing import Any, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from amal_lightning.errors import AmalError

# How a position in a list is named, by the list's key: "figures, figure 2" rather than "figures, 1".
ITEM_NAMES = {"figures": "figure", "comparisons": "comparison", "seeds": "seed", "images": "image"}
ITEM_NAMES.update(choices="choice", variants="variant", metrics="metric", pairs="pair")
MAPPING_ERRORS = ("model_type", "model_attributes_type", "dict_type")
Model = TypeVar("Model", bound=BaseModel)


class FileModel(BaseModel):
    """A block of a study file: a misspelt key is refused rather than ignored, and a number is taken as
    text where text is wanted (a variant named ``10``), as YAML reads ``10`` as a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def validated(model: type[Model], where: str, data: Any) -> Model:
    """``data`` (a YAML file's content, or a block of it) read as ``model``; ``where`` names it in errors."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise AmalError(one_line(where, error, data, model.model_json_schema())) from None


def one_line(where: str, error: ValidationError, data: Any, schema: dict[str, Any]) -> str:
    """The first of pydantic's errors as one line naming ``where``, the path of keys and what is wrong."""
    errors = error.errors()
    first = next((item for item in errors if item["type"] == "extra_forbidden"), errors[0])
    kind, location, value = first["type"], first["loc"], first["input"]
    keys = file_keys(data, location, kind == "missing")
    if kind in ("extra_forbidden", "missing"):
        parent = schema_node(schema, location[:-1])
        here = where + path_text(keys[:-1])
        if kind == "extra_forbidden":
            known = ", ".join(properties(schema, parent)) if parent is not None else ""
            return f"{here}: unknown key {location[-1]!r}" + (f" (known: {known})" if known else "")
        field = schema_node(schema, location)
        about = field.get("description") if field is not None else None
        return f"{here}: missing key {location[-1]!r}" + (f" ({about})" if about else "")
    here = where + path_text(keys)
    if kind == "value_error":
        return f"{here}: {first['ctx']['error']}"
    node = schema_node(schema, location)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(node.get("discriminator", {}).get("mapping", {})) if node is not None else ""
        key = first["ctx"]["discriminator"].strip("'")
        if kind == "union_tag_not_found":
            return f"{here}: missing key {key!r} ({tags})"
        return f"{here}: {key} must be one of {tags}, got {first['ctx']['tag']!r}"
    if kind in MAPPING_ERRORS and node is not None and properties(schema, node):
        return f"{here}: expected a mapping with {', '.join(properties(schema, node))}, got {shown(value)}"
    about = node.get("description") if node is not None else None
    if about:
        return f"{here}: expected {about}, got {shown(value)}"
    return f"{here}: {first['msg'][:1].lower()}{first['msg'][1:]}, got {shown(value)}"


def file_keys(data: Any, location: tuple, missing: bool) -> list[tuple[Any, Any]]:
    """The keys and list positions of ``location`` that are in the file: a union's tag or member name
    (``float``, ``constrained-int``) is not; a missing key is the last one, where it should have been."""
    keys, node, parent = [], data, None
    for index, part in enumerate(location):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (missing and index == len(location) - 1):
            continue
        keys.append((parent, part))
        parent = part
    return keys


def path_text(keys: list[tuple[Any, Any]]) -> str:
    """``, search, params, lr``: each key, a list position named by its list (``figure 2``), a variant by name."""
    words = []
    for parent, key in keys:
        if isinstance(key, int):
            words.append(f"{ITEM_NAMES.get(parent, 'item')} {key + 1}")
        elif parent == "variants":
            words.append(f"variant {key!r}")
        else:
            words.append(str(key))
    return "".join(f", {word}" for word in words)


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its ``$ref`` followed (pydantic puts the models in ``$defs``)."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def step(schema: dict[str, Any], node: dict[str, Any], part: Any) -> Optional[dict[str, Any]]:
    """The schema node one key, list position or union tag below ``node``, or None."""
    node = resolve(schema, node)
    mapping = node.get("discriminator", {}).get("mapping", {})
    if isinstance(part, str) and part in mapping:
        return resolve(schema, {"$ref": mapping[part]})
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        if branch.get("type") != "null" and (found := step(schema, branch, part)) is not None:
            return found
    if isinstance(part, str) and part in node.get("properties", {}):
        return node["properties"][part]
    if isinstance(part, int) and "items" in node:
        return node["items"]
    if isinstance(part, str) and isinstance(node.get("additionalProperties"), dict):
        return node["additionalProperties"]
    return None


def schema_node(schema: dict[str, Any], location: tuple) -> Optional[dict[str, Any]]:
    """The node of ``location``; the name of a union's member (``constrained-int``) leaves it where it is."""
    node: dict[str, Any] = schema
    for part in location:
        below = step(schema, node, part)
        if below is None:
            if isinstance(part, int) or "properties" in resolve(schema, node):
                return None  # a key the schema does not know
            continue
        node = below
    return node


def properties(schema: dict[str, Any], node: dict[str, Any]) -> list[str]:
    """The keys a mapping node knows, in order."""
    node = resolve(schema, node)
    for branch in node.get("anyOf", []):
        if branch.get("type") != "null":
            return properties(schema, branch)
    return list(node.get("properties", {}))


def shown(value: Any) -> str:
    """A value as the error quotes it, cut short: a whole block of the file would not be one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
