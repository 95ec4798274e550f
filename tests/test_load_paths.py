"""What `policyengine.load` reads: no argument is the shipped library, an empty list of paths is an error."""

from __future__ import annotations

import pytest

import policyengine


def test_an_empty_list_of_paths_is_an_error_not_the_shipped_library() -> None:
    # load([]) used to load the shipped library silently, which hides a caller
    # that meant to pass files and passed none.
    with pytest.raises(policyengine.PolicyError) as info:
        policyengine.load([])
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["PE005"]
    assert "no policy files or directories were given" in str(info.value)


def test_no_argument_still_means_the_shipped_library() -> None:
    engine = policyengine.load()
    assert "RU" in engine.jurisdictions()
