"""Every named URL of the project, walked from the root resolver."""
from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

SKIPPED_PREFIXES = ("admin/", "api/schema/", "api/docs/")


def url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, prefix: str, ns: str | None) -> None:
        for p in resolver.url_patterns:
            route = prefix + str(p.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(p, URLResolver):
                inner = ":".join(x for x in (ns, p.namespace) if x) or None
                walk(p, route, inner)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{ns}:{p.name}" if ns else p.name)

    walk(get_resolver(), "", None)
    return names
