"""The Dagster layer: definitions only. Logic lives in the plain packages it calls."""
