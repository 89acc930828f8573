"""`mlops-portal`: the command-line client of the portal's REST API (no Django inside)."""
