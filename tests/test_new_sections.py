"""The sections of the lecture's introduction, computer vision, ImageNet line and FUTURE slide at the smoke scale
(a file of their own, so that the test workers share the sections' minute between them)."""

import pytest

from tests.test_sections import writes_its_report


@pytest.mark.parametrize("name", ["intro", "vision", "imagenet", "future"])
def test_each_new_section_writes_its_report(name, tmp_path, monkeypatch):
    writes_its_report(name, tmp_path, monkeypatch)
