from __future__ import annotations

# ``models`` is a fixture: importing it makes it available to the tests of this folder.
from tests.validation.conftest import models

__all__ = ["models"]
