"""One default per setting: the command line's and the Python API's defaults are the workflow config schema's, for
every settings group (yolov12/settings.py). The flags and parameters compared are found, not listed: every flag the
real parser built with ``add_setting``, every API parameter named as a setting of the group it times or scores."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

from yolov12 import settings
from yolov12.workflow import schemas


def schema_defaults(group: settings.Group) -> dict:
    """The group's defaults as the completed config schema holds them (what the workflow fills in)."""
    node = schemas.config_schema()
    for part in group.path:
        node = node["properties"][part]
    return {k: p["default"] for k, p in node["properties"].items() if k in group.properties and "default" in p}


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from parsers(sub)


def test_every_group_is_in_the_schema_with_its_defaults():
    for group in settings.GROUPS.values():
        assert schema_defaults(group) == group.defaults, group.name


def test_command_line_defaults_are_the_schemas():
    from yolov12.cli import build_parser

    seen: dict[str, set[str]] = {}
    for parser in parsers(build_parser()):
        for action in parser._actions:
            if not hasattr(action, "setting"):
                continue
            name, key = action.setting
            expected = schema_defaults(settings.GROUPS[name])[key]
            got = parser.get_default(action.dest)  # a parser's set_defaults would win over the flag's own
            if action.nargs in ("+", "*"):
                assert got == as_list(expected), (parser.prog, action.dest)
            else:
                assert got == expected, (parser.prog, action.dest)
            seen.setdefault(name, set()).add(key)
    # the groups a command exposes: every timing and scoring setting of `latency` and `val` is a flag
    assert seen["latency"] >= set(settings.LATENCY.properties) - {"studies", "runtime_studies"}, seen["latency"]
    assert seen["evaluate"] == set(settings.EVALUATE.properties)
    assert seen["synthetic"] == set(settings.SYNTHETIC.properties)
    assert {"complexity", "selection"} <= set(seen)


def _api_defaults(obj) -> dict:
    if dataclasses.is_dataclass(obj):
        return {f.name: f.default for f in dataclasses.fields(obj) if f.default is not dataclasses.MISSING}
    return {n: p.default for n, p in inspect.signature(obj).parameters.items() if p.default is not p.empty}


def test_api_defaults_are_the_schemas():
    """measure() and the timing plans, evaluate() and the artifact evaluation, the bootstrap, the synthetic spec: a
    parameter named as a setting of the group (or its plural: batches, imgszs) defaults to the schema's value."""
    from yolov12.data.synth_spec import SynthSpec
    from yolov12.evaluate import evaluate
    from yolov12.evaluate.artifact import evaluate_artifact, export_artifact
    from yolov12.evaluate.bootstrap import compare_results, paired_delta
    from yolov12.latency.core import measure
    from yolov12.latency.session import SessionSettings
    from yolov12.latency.stats import TimingPlan

    api = {"latency": [measure, SessionSettings, TimingPlan], "evaluate": [evaluate, evaluate_artifact],
           "bootstrap": [evaluate_artifact, paired_delta, compare_results], "export": [export_artifact],
           "synthetic": [SynthSpec]}
    for name, objects in api.items():
        expected = schema_defaults(settings.GROUPS[name])
        for obj in objects:
            defaults = _api_defaults(obj)
            compared = 0
            for key, value in expected.items():
                param = next((p for p in (key, f"{key}s", f"{key}es") if p in defaults), None)
                if param is None:
                    continue
                got = defaults[param]
                if param != key or isinstance(got, tuple):
                    assert as_list(got) == as_list(value), (obj, param)
                else:
                    assert got == value, (obj, param)
                compared += 1
            assert compared, f"{obj} shares no setting of {name}"
    assert _api_defaults(evaluate_artifact)["tolerance"] == settings.EXPORT.ap_tolerance
