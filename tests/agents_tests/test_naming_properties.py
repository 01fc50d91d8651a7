"""Property tests: any display name the service accepts gets a safe slug."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.models import NAME_MAX_LENGTH
from agents.naming import (
    DISPLAY_NAME_PATTERN,
    RESERVED_SLUGS,
    clean_display_name,
    slug_base,
    slug_candidates,
)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@given(st.text(max_size=80))
@settings(max_examples=500)
def test_accepted_display_names_match_the_schema_pattern(text):
    try:
        cleaned = clean_display_name(text)
    except ValidationError:
        return
    assert 1 <= len(cleaned) <= 64
    assert cleaned == cleaned.strip()
    assert re.match(DISPLAY_NAME_PATTERN, cleaned)


@given(st.text(min_size=1, max_size=64))
@settings(max_examples=500)
def test_every_slug_is_container_safe_and_bounded(text):
    for candidate in list(slug_candidates(slug_base(text)))[:3] + [
            list(slug_candidates(slug_base(text)))[-1]]:
        assert SLUG.match(candidate), candidate
        assert len(candidate) <= NAME_MAX_LENGTH
        assert candidate not in RESERVED_SLUGS


@given(st.text(alphabet=st.characters(categories=["Cc"]), min_size=1, max_size=5),
       st.text(alphabet="abc", min_size=1, max_size=5))
def test_control_characters_are_refused(controls, letters):
    with pytest.raises(ValidationError):
        clean_display_name(letters + controls + letters)


@given(st.text(alphabet=st.characters(categories=["Cf"]), min_size=1, max_size=5),
       st.text(alphabet="abc", min_size=1, max_size=5))
def test_format_characters_are_refused(formats, letters):
    with pytest.raises(ValidationError) as info:
        clean_display_name(letters + formats + letters)
    assert info.value.code == "invalid_display_name"
