"""The request object handed to route functions, with the repo lookup + access checks they all share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

from . import auth
from .errors import bad_request, repo_not_found
from .http_io import BodyReader, parse_json
from .storage import RepoKey, make_repo_key

if TYPE_CHECKING:
    from email.message import Message

    from .server import HubServer


@dataclass
class Request:
    method: str
    raw_path: str
    query_string: str
    headers: Message
    body: BodyReader
    access: auth.Access
    hub: HubServer
    params: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        # URLs we hand out must use exactly the client's HF_ENDPOINT host (§2.1): echo the Host it connected to.
        return f"http://{self.headers.get('Host') or self.hub.url.removeprefix('http://')}"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() in ("1", "true")

    def param(self, name: str) -> str:
        """A path parameter, percent-decoded after routing so `refs%2Fpr%2F1` stays one segment (§2.1)."""
        return unquote(self.params[name])

    def json(self):
        return parse_json(self.body.read_all())

    def json_object(self) -> dict:
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise bad_request("Expected a JSON object")
        return data

    @property
    def repo_key(self) -> RepoKey:
        repo_type = (self.params.get("type") or "models").removesuffix("s")
        return make_repo_key(repo_type, self.param("ns"), self.param("name"))

    def open_repo(self, *, write: str | None = None) -> tuple[RepoKey, dict]:
        """Look up the routed repo, enforcing visibility, then write access when `write` names the action."""
        return self.open_repo_key(self.repo_key, write=write)

    def open_repo_key(self, key: RepoKey, *, write: str | None = None) -> tuple[RepoKey, dict]:
        auth.reject_invalid(self.access)
        meta = self.hub.storage.repo(key)
        if meta is None:
            # Anonymous callers get 401 and everybody else 404, both RepoNotFound (§2.6).
            raise repo_not_found(401 if self.access is auth.Access.ANONYMOUS else 404)
        auth.check_read(self.access, private=meta["private"])
        if write is not None:
            auth.check_write(self.access, write)
        return key, meta
