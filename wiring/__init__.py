"""The wiring on top of every app: the project URLs, the REST API router and the Jinja2
environment. It may import any app; no app imports it (pyproject.toml, design.md)."""
