"""The pull requests a `hub.create_pr` dataset leaves open for review: at most one of ours per dataset config.

A publish plans against the revision's head, which has none of an unmerged pull request's changes. Opened
blindly, every publish (one per landed batch, one per nightly reconcile) would add one more open PR holding the
same shards again, and merging an older one after a newer one would put back a stale card. So a publish first
looks at the open PRs of its config, found by their title (`Publication.prefix`): one that already holds what the
publish would commit is the answer, and nothing is opened; otherwise the new PR closes them as superseded. A
publish that finds the revision already holding it all closes them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from upload_pipeline.card import generated_metadata
from upload_pipeline.providers.base import SyncPlan, SyncRequest, SyncResult
from upload_pipeline.staging import CARD_NAME

REPO_TYPE = "dataset"
# Dataset names are `\w+` and config names `[\w.-]+` (config.py): a title names them unambiguously.
_TITLE = re.compile(r"Publish (?P<dataset>\w+) \((?P<config>[\w.-]+)\) from Dagster run ")


@dataclass(frozen=True)
class Publication:
    """A dataset config's publishes, as their commit and pull request titles name them."""

    dataset: str
    config: str

    @property
    def prefix(self) -> str:
        """The title of every publish of this config, but for its run."""
        return f"Publish {self.dataset} ({self.config}) from Dagster run "

    def message(self, run_id: str) -> str:
        return self.prefix + run_id[:8]

    @classmethod
    def of(cls, message: str) -> Publication | None:
        """The publication a message names; None for other messages (a delete's, a test's)."""
        found = _TITLE.match(message)
        return cls(found["dataset"], found["config"]) if found else None


@dataclass(frozen=True)
class OpenPr:
    num: int
    url: str
    oid: str  # the head commit of its refs/pr/N


@dataclass(frozen=True)
class OurPrs:
    """A publish's open pull requests of ours (those of its config; none unless `hub.create_pr`), newest first,
    and what the publish does with them. `hub` is the HfHubResource that publishes."""

    hub: Any
    target: Any  # HubTarget
    config: str
    prs: list[OpenPr]

    @classmethod
    def listed(cls, hub: Any, target: Any, message: str) -> OurPrs:
        ours = Publication.of(message) if target.create_pr else None
        if ours is None:
            return cls(hub, target, "", [])
        return cls(hub, target, ours.config, hub._call(f"list pull requests of {target.repo_id}", lambda: open_prs(
            hub.api(), target.repo_id, lambda title: title.startswith(ours.prefix))))

    def holding(self, plan: SyncPlan, request: SyncRequest | None) -> OpenPr | None:
        """Our newest open PR if it has what `plan` would commit; `request` None: a removal, no card staged."""
        if not self.prs:
            return None
        newest = self.prs[0]
        card = self.hub.read_text(self.target, CARD_NAME, revision=newest.oid)
        staged = (request.root / CARD_NAME).read_text(encoding="utf-8") if request else None
        tree = self.hub._tree(self.target, newest.oid, *((request.root, request.files) if request else ()))
        return newest if holds(tree, card, plan, staged, self.config) else None

    def held(self, plan: SyncPlan, request: SyncRequest | None) -> SyncResult | None:
        """Our newest open PR as the publish's result (nothing committed), when it has what `plan` would commit;
        the older ones, a crash's or an earlier version's, are closed."""
        newest = self.holding(plan, request)
        if newest is None:
            return None
        self._close(newest.num)
        held = SyncPlan(plan.target, unchanged=plan.unchanged + len(plan.uploads), base=plan.base)
        return SyncResult(held, url=self.hub.repo_url(self.target), commit_id=newest.oid,
                          metadata={"pull_request": newest.url})

    def superseding(self, result: SyncResult) -> SyncResult:
        """`result`, the publish's commit, after closing our older open PRs that the PR it opened supersedes."""
        if self.prs:
            self._close(pr_num(result.metadata["pull_request"]))
        return result

    def close_stale(self) -> None:
        """The revision already has what the publish would commit (published without `create_pr`, say): our open
        PRs propose nothing more, and merging one would only put an older state back."""
        self._close(None)

    def _close(self, newest: int | None) -> None:
        """Close our open PRs but `newest`; all of them when None (the revision has it all)."""
        if self.prs:
            comment = f"Superseded by #{newest}" if newest is not None else \
                f"Superseded: {self.target.revision} already has this content"
            self.hub._call(f"close superseded pull requests of {self.target.repo_id}", lambda: supersede(
                self.hub.api(), self.target.repo_id, self.prs, newest, comment))


def open_prs(api: Any, repo_id: str, title_matches: Callable[[str], bool]) -> list[OpenPr]:
    """The open (or draft) pull requests whose title `title_matches`, newest first."""
    found = [d for d in api.get_repo_discussions(repo_id, repo_type=REPO_TYPE, discussion_type="pull_request")
             if d.status in ("open", "draft") and title_matches(d.title)]
    if not found:
        return []
    refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE, include_pull_requests=True).pull_requests or []
    heads = {ref.ref: ref.target_commit for ref in refs}
    return sorted((OpenPr(d.num, d.url, heads[d.git_reference]) for d in found), key=lambda pr: -pr.num)


def holds(tree: dict[str, str], card: str | None, plan: SyncPlan, staged_card: str | None, config: str) -> bool:
    """Whether a pull request head (`tree`: path → sha256, and its card) has what `plan` would commit. The plan's
    card is the staged one merged into the revision's, so only this config's generated metadata is compared; with
    no staged card (the dataset taken out) the PR's card must not have this config any more."""
    wanted = generated_metadata(staged_card, config) if staged_card else (None, None)
    return (all(tree.get(u.path) == u.sha256 for u in plan.uploads if u.path != CARD_NAME)
            and not any(path in tree for path in plan.deletes)
            and card is not None and generated_metadata(card, config) == wanted)


def supersede(api: Any, repo_id: str, prs: list[OpenPr], newest: int | None, comment: str) -> None:
    """Close `prs` but `newest`, which holds everything they proposed and more: only it is left to merge. With
    `newest` None the revision itself already has it all, and every one of them goes."""
    for pr in prs:
        if pr.num != newest:
            close(api, repo_id, pr.num, comment)


def close(api: Any, repo_id: str, num: int, comment: str) -> None:
    """Close PR `num` with `comment` if it is still open."""
    # Looked at again first: a retry whose first attempt's answer was lost would close a closed PR.
    if api.get_discussion_details(repo_id, num, repo_type=REPO_TYPE).status in ("open", "draft"):
        api.change_discussion_status(repo_id, num, new_status="closed", comment=comment, repo_type=REPO_TYPE)


def pr_num(url: str) -> int:
    """The number of the pull request at `url` (…/discussions/N), as huggingface_hub's CommitInfo reads it."""
    return int(url.rstrip("/").rsplit("/", 1)[1])


def answered(api: Any, repo_id: str, message: str, repo_url: str) -> Any:
    """The pull request an earlier attempt of this publish opened (open or draft, titled with the publish's
    message, which names the Dagster run), as the CommitInfo its commit would have answered; else None."""
    from huggingface_hub import CommitInfo

    found = next(iter(open_prs(api, repo_id, lambda title: title == message)), None)
    if found is None:
        return None
    return CommitInfo(commit_url=f"{repo_url}/commit/{found.oid}", commit_message=message, commit_description="",
                      oid=found.oid, pr_url=found.url, _endpoint=api.endpoint)


def merge(api: Any, repo_id: str, num: int) -> None:
    """Merge PR `num`; one already merged (a retry whose first attempt's answer was lost) is done."""
    if api.get_discussion_details(repo_id, num, repo_type=REPO_TYPE).status == "merged":
        return
    api.merge_pull_request(repo_id, num, repo_type=REPO_TYPE, comment="Merged by upload_pipeline")
