"""The located YAML loader reads anchors, aliases and merge keys as `yaml.safe_load` does, and locates them."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dunflow.policy.build import build_policy
from dunflow.policy.load import Mark, load_yaml, load_yaml_text
from dunflow.resources import resource_path

MERGED_POLICY = Path(__file__).resolve().parents[1] / "policies" / "valid" / "b2b-standard-merged.yaml"

SAME_AS_SAFE_LOAD = {
    "own keys win over merged ones": "base: &base {days: 7, from: due_date}\nstep:\n  <<: *base\n  days: 14\n",
    "merge key written after own keys": "base: &base {days: 7, from: due}\nstep: {days: 14, <<: *base}\n",
    "nested merges": "a: &a {days: 7}\nb: &b {<<: *a, from: due}\nc: {<<: *b, id: x}\n",
    "a list of mappings without conflicts": "a: &a {days: 7}\nb: &b {from: due}\nc: {<<: [*a, *b]}\n",
    "plain aliases of lists and scalars": "a: &a [email, letter]\nb: *a\nc: &c due\nd: *c\n",
}


@pytest.mark.parametrize("text", SAME_AS_SAFE_LOAD.values(), ids=SAME_AS_SAFE_LOAD.keys())
def test_anchors_and_merge_keys_load_as_safe_load_reads_them(text: str) -> None:
    document, problems = load_yaml_text(text, "p.yaml")
    assert problems == [] and document is not None
    assert document.data == yaml.safe_load(text)


def test_in_a_list_of_merged_mappings_the_first_wins_as_the_merge_spec_says() -> None:
    # https://yaml.org/type/merge.html: "Keys in mapping nodes earlier in the sequence override keys
    # specified in later mapping nodes." (PyYAML 6.0.4 gets this wrong for longer keys: yaml/pyyaml#953.)
    text = "a: &a {channels: [letter], days: 1}\nb: &b {channels: [email], from: due}\nc: {<<: [*a, *b]}\n"
    document, _ = load_yaml_text(text, "p.yaml")
    assert document is not None
    assert document.data["c"] == {"channels": ["letter"], "days": 1, "from": "due"}


def test_a_merged_key_is_located_where_it_is_written_and_an_own_key_where_it_overrides() -> None:
    text = "base: &base\n  days: 7\n  from: due_date\nstep:\n  <<: *base\n  days: 14\n"
    document, _ = load_yaml_text(text, "p.yaml")
    assert document is not None
    assert document.mark(("step", "from")) == Mark(3, 9)
    assert document.mark(("step", "from"), key=True) == Mark(3, 3)
    assert document.mark(("step", "days")) == Mark(6, 9)
    assert document.mark(("step",), key=True) == Mark(4, 1)


def test_a_duplicate_key_in_an_anchored_mapping_is_reported_once_however_often_it_is_merged() -> None:
    text = "base: &base {days: 7, days: 8}\none: {<<: *base}\ntwo: {<<: *base}\n"
    _, problems = load_yaml_text(text, "p.yaml")
    assert [(p.line, p.col, p.rule) for p in problems] == [(1, 23, "duplicate-key")]


def test_two_merge_keys_in_one_mapping_are_a_duplicate_key() -> None:
    text = "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n"
    _, problems = load_yaml_text(text, "p.yaml")
    assert [(p.line, p.col, p.message) for p in problems] == [(5, 3, "duplicate key '<<' (first defined on line 4)")]


def test_merging_something_that_is_not_a_mapping_is_a_located_problem_not_a_traceback() -> None:
    text = "channels: &channels [email]\nstep:\n  <<: *channels\n  id: x\n"
    document, problems = load_yaml_text(text, "p.yaml")
    assert document is not None and document.data["step"] == {"id": "x"}
    assert [(p.line, p.col, p.rule) for p in problems] == [(3, 3, "yaml-merge")]


def test_an_alias_inside_its_own_anchor_is_a_problem_not_a_traceback() -> None:
    document, problems = load_yaml_text("steps: &steps [a, *steps]\n", "p.yaml")
    assert document is None
    assert [p.rule for p in problems] == ["yaml-recursive"]


def test_a_policy_written_with_merge_keys_builds_the_same_policy_as_written_out() -> None:
    merged, problems = load_yaml(MERGED_POLICY)
    shipped, _ = load_yaml(resource_path("policies", "b2b-standard.yaml"))
    assert problems == [] and merged is not None and shipped is not None
    assert merged.data == shipped.data
    assert build_policy(merged.data, "b2b.yaml") == build_policy(shipped.data, "b2b.yaml")
