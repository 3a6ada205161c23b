"""The pages `tagwatch run` serves: the moves feed, tag timelines, cluster skew boards, /docs.

Server-rendered HTML (Jinja2, autoescaped: tags, labels and cluster names are text anyone
who can push or deploy writes) with SVG for timelines; every asset is in this package, so a
page load sends no request to another host. Templates and static files ship in the wheel.
"""

from tagwatch.web.pages.routes import mount

__all__ = ["mount"]
