"""The ground floor every app stands on: permissions, base views, the API plumbing, the registry
of what apps contribute to each other, and the names of audit actions. Imports no other app."""
