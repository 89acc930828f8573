"""The validation engine: code that runs inside the sandbox.

No Django and no other project module may be imported here, and imports within the package are
relative: inside the sandbox this folder is the top-level package ``engine``.
"""
