"""The schema's string patterns say what DRF really accepts: blank is what Python strips."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from api.schema import NOT_BLANK_PATTERN

# Every character Python's str.strip() removes, and one it keeps that
# JSON Schema's `\s` (ECMA-262) counts as white space.
PYTHON_WHITESPACE = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]


@pytest.mark.parametrize("char", PYTHON_WHITESPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_required_string_of_python_whitespace_only_breaks_the_pattern(char):
    assert re.fullmatch(NOT_BLANK_PATTERN, char * 2) is None


@pytest.mark.parametrize("value", ["\ufeff", "a", " a ", "\x85a\x85"])
def test_a_string_python_does_not_strip_to_blank_meets_the_pattern(value):
    assert value.strip()
    assert re.fullmatch(NOT_BLANK_PATTERN, value)


@pytest.mark.django_db
@pytest.mark.parametrize("framework", ["\x85", "\x1f", "\u3000"])
def test_the_deploy_endpoint_refuses_what_the_pattern_refuses(api, framework):
    response = api.post("/api/agents/deploy/",
                        {"display_name": "Bot", "framework": framework, "model": "m"},
                        format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["framework"][0]["code"] == "blank"
    assert re.fullmatch(NOT_BLANK_PATTERN, framework) is None


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for ECMA-262 regexes")
def test_the_pattern_means_the_same_in_json_schemas_regex_dialect():
    # JSON Schema patterns are ECMA-262 regexes: check them there, with node.
    script = (
        "const re = new RegExp(process.argv[1], 'u'); const out = [];"
        "for (let i = 0; i <= 0x10ffff; i++) {"
        "  if (i >= 0xd800 && i <= 0xdfff) continue;"
        "  const c = String.fromCodePoint(i); if (!re.test(c + c)) out.push(i); }"
        "console.log(JSON.stringify(out));"
    )
    result = subprocess.run(["node", "-e", script, NOT_BLANK_PATTERN], capture_output=True,
                            text=True, timeout=60, check=True)
    refused = {chr(i) for i in json.loads(result.stdout)}
    assert refused == {*PYTHON_WHITESPACE, "\x00"}
