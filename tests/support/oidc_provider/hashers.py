"""A password hasher for the test provider's throwaway users and client secret."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations: never for real passwords, only for this loopback test server."""

    algorithm = "pbkdf2_sha256_quick"
    iterations = 1000
