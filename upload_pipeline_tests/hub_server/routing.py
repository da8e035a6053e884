"""Route table: (method, regex on the raw path) → (kind, function).

Matching runs on the *raw* path and parameters are percent-decoded afterwards (`Request.param`): revisions arrive
as `refs%2Fpr%2F1` and tree paths as `data%2Fsub`, and decoding first would split them (hub-protocol.md §2.1, §9.1).
The kind names the route in counters and fault rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import routes_commit, routes_discussions, routes_lfs, routes_refs, routes_repos, routes_resolve, routes_tree
from .http_io import Response
from .request import Request

_API = r"^/api/(?P<type>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
# Web/LFS routes: models have no type prefix (§2.1). `name` is non-greedy so `.git` is not part of it.
_WEB = r"^/(?:(?P<type>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)"
_UPLOAD = r"^/lfs-upload/(?P<upload>[0-9a-f]{32})"


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    kind: str
    handler: Callable[[Request], Response]


def _route(methods: str, pattern: str, kind: str, handler: Callable[[Request], Response]) -> Route:
    return Route(tuple(methods.split()), re.compile(pattern), kind, handler)


# Order matters: `/api/...` and `/lfs-upload/...` must win over the catch-all web patterns.
ROUTES = (
    _route("GET", r"^/api/whoami-v2$", "whoami", routes_repos.whoami),
    _route("GET", r"^/api/agent-harnesses$", "agent_harnesses", routes_repos.agent_harnesses),
    _route("POST", r"^/api/repos/create$", "repo_create", routes_repos.create_repo),
    _route("DELETE", r"^/api/repos/delete$", "repo_delete", routes_repos.delete_repo),
    _route("POST", r"^/api/validate-yaml$", "validate_yaml", routes_repos.validate_yaml),
    _route("GET", _API + r"$", "repo_info", routes_repos.repo_info),
    _route("GET", _API + r"/revision/(?P<rev>[^/]+)$", "repo_info", routes_repos.repo_info),
    _route("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$", "tree", routes_tree.tree),
    _route("POST", _API + r"/paths-info/(?P<rev>[^/]+)$", "paths_info", routes_tree.paths_info_route),
    _route("GET", _API + r"/commits/(?P<rev>[^/]+)$", "commits", routes_tree.commits),
    _route("GET", _API + r"/refs$", "refs", routes_refs.list_refs),
    _route("POST", _API + r"/branch/(?P<branch>[^/]+)$", "branch", routes_refs.create_branch),
    _route("DELETE", _API + r"/branch/(?P<branch>[^/]+)$", "branch", routes_refs.delete_branch),
    _route("POST", _API + r"/tag/(?P<rev>[^/]+)$", "tag", routes_refs.create_tag),
    _route("DELETE", _API + r"/tag/(?P<rev>[^/]+)$", "tag", routes_refs.delete_tag),
    _route("POST", _API + r"/preupload/(?P<rev>[^/]+)$", "preupload", routes_commit.preupload),
    _route("POST", _API + r"/commit/(?P<rev>[^/]+)$", "commit", routes_commit.commit),
    _route("GET", _API + r"/discussions$", "discussions", routes_discussions.list_discussions),
    _route("POST", _API + r"/discussions$", "discussions", routes_discussions.create),
    _route("GET", _API + r"/discussions/(?P<num>\d+)$", "discussion", routes_discussions.details),
    _route("POST", _API + r"/discussions/(?P<num>\d+)/status$", "discussion_status", routes_discussions.change_status),
    _route("POST", _API + r"/discussions/(?P<num>\d+)/comment$", "discussion_comment", routes_discussions.comment),
    _route("POST", _API + r"/discussions/(?P<num>\d+)/merge$", "discussion_merge", routes_discussions.merge),
    _route("PUT", _UPLOAD + r"$", "lfs_upload", routes_lfs.upload),
    _route("PUT", _UPLOAD + r"/part/(?P<part>\d+)$", "lfs_part", routes_lfs.upload_part),
    _route("POST", _UPLOAD + r"/complete$", "lfs_complete", routes_lfs.complete),
    _route("POST", _WEB + r"\.git/info/lfs/objects/batch$", "lfs_batch", routes_lfs.batch),
    _route("POST", _WEB + r"\.git/info/lfs/objects/verify$", "lfs_verify", routes_lfs.verify),
    _route("GET HEAD", _WEB + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve", routes_resolve.resolve),
)


@dataclass(frozen=True)
class Match:
    route: Route | None  # None: no route for this method and path
    params: dict[str, str]

    @property
    def kind(self) -> str:
        return self.route.kind if self.route else "unknown"


def match(method: str, raw_path: str) -> Match:
    for route in ROUTES:
        if method in route.methods:
            found = route.pattern.match(raw_path)
            if found:
                return Match(route, {name: value for name, value in found.groupdict().items() if value is not None})
    return Match(None, {})
