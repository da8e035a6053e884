"""The S3 role on Amazon S3 or any S3-compatible store, through dagster-aws's S3Resource and boto3.

A sync makes `s3://<bucket>/<prefix>/` equal to the staged tree: objects whose sha256 differs from the staged
file's are uploaded, and so are objects of ours encrypted otherwise than the dataset's `sse` asks; under the
`mirror` policy objects that staging no longer has are deleted (`archives/` aside). Uploads go through
s3transfer (multipart above the threshold, parts in parallel) and are verified after (see s3_transfer), their
encryption too: an object the store kept without the `sse` asked fails the sync (it is kept, and sent again by the
next sync, which fails again: never a silent loop). The sha256 and encryption of remote objects come from s3_tree.
Unfinished multipart uploads under the prefix — left by a crash — are looked at first: continued when their parts
are a file this sync uploads, else aborted, so no orphan parts accumulate (s3_resume). The connection, the retry
budget and the knobs are in s3_client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from upload_pipeline.config import S3Target
from upload_pipeline.providers.base import SyncPlan, SyncRequest, SyncResult
from upload_pipeline.providers.plan import diff, under
from upload_pipeline.providers.s3_client import S3Connection, key_prefix
from upload_pipeline.providers.s3_errors import credential_source, first_failure
from upload_pipeline.providers.s3_resume import Resumable, claim_stale_uploads, resume
from upload_pipeline.providers.s3_transfer import (
    IntegrityError, Item, Verified, delete_keys, encryption_args, encryption_failure, encryption_of,
    encryption_problem, stored_sha256, target_args, upload, verify_uploads)
from upload_pipeline.providers.s3_tree import HeadCache, list_objects, remote_tree
from upload_pipeline.staging import CARD_NAME


@dataclass
class S3SyncPlan(SyncPlan):
    """A plan, and which of its uploads are there only because the object, with the staged bytes, is encrypted
    otherwise than the dataset asks."""

    reencrypted: list[str] = field(default_factory=list)


class S3StorageResource(S3Connection):
    """S3 role through boto3 (credential chain, AWS_ENDPOINT_URL). Select with UPLOAD_PIPELINE_S3=s3."""

    def check_auth(self) -> str:
        """Resolve credentials through boto3's chain, before any request.

        Returns:
            What signs the requests, e.g. "access key …WXYZ (env)"; the key itself is never shown.

        Raises:
            MissingCredentials: none found; the message names the variables to set.
        """
        return credential_source(self.s3)

    def plan_sync(self, target: S3Target, request: SyncRequest) -> S3SyncPlan:
        """Compare the staged tree with the objects under the prefix; nothing is written.

        Args:
            target: the dataset's `s3:` section.
            request: the staged tree and the paths a mirror may delete.

        Returns:
            The plan: new or changed files to upload (and, with `sse`, files whose objects are encrypted
            otherwise), owned objects staging lacks to delete.

        Raises:
            ProviderError: the bucket is missing or not ours to read (before any byte moves).
        """
        self._check_bucket(target)
        # Without `sse` the bucket's default encryption applies: nothing is compared (`wanted` is empty), and no
        # HEAD is made to learn it.
        tree, encrypted = self._tree(target, encryption=bool(target.sse))
        wanted = encryption_args(target)
        # An object of ours encrypted otherwise (written before `sse` changed, or continued by a crashed run that
        # died before deleting it, see s3_resume) carries the right sha256 all the same: hidden from the diff,
        # it is uploaded again like a changed file, encrypted as asked.
        other = {path for path, got in encrypted.items() if encryption_problem(got, wanted)}
        plan = diff(self.uri(target), request, {p: "sse:" + s if p in other else s for p, s in tree.items()}, None)
        again = [u.path for u in plan.uploads if u.path in other and tree[u.path] == u.sha256]
        return S3SyncPlan(**vars(plan), reencrypted=again)

    def apply(self, target: S3Target, plan: S3SyncPlan, request: SyncRequest) -> SyncResult:
        """Abort stale multipart uploads, upload and verify (the card last), then delete.

        Args:
            target: the dataset's `s3:` section.
            plan: from `plan_sync`.
            request: the sync request the plan was made for.

        Returns:
            The result; its metadata holds URIs, counts, bytes, seconds and MB/s for the asset.

        Raises:
            ProviderError: an upload, a verification or a deletion failed, or, with `sse`, the server did not
                apply the encryption to an uploaded object (kept); nothing is deleted then.
        """
        client, base, started = self.client(), key_prefix(target), time.monotonic()
        items = [Item(base + u.path, u.size, u.sha256, u.source, u.content) for u in plan.uploads]
        checksum = bool(items) and self.digests(target).sha256  # no probe when there is nothing to upload
        # An unfinished archive upload is the archive step's to continue (put_file), when archives are on.
        spare = tuple(base + kept for kept in request.kept) if target.archive else ()
        claimed, aborted = self._call(
            f"look at unfinished uploads under {self.uri(target)}",
            lambda: claim_stale_uploads(client, target.bucket, base, items, self.transfer_config(), checksum,
                                        target.storage_class, spare))
        cache = self._cache(target)
        # The card goes last, deletions after it: a reader following the README never meets a missing shard.
        checked = self._send(target, [i for i in items if i.key != base + CARD_NAME], cache, claimed)
        checked += self._send(target, [i for i in items if i.key == base + CARD_NAME], cache)
        if plan.deletes:
            self._call(f"delete under {self.uri(target)}",
                       lambda: delete_keys(client, target.bucket, [base + p for p in plan.deletes]))
        cache.keep_only(set(cache.entries) - {base + p for p in plan.deletes})
        cache.save()
        seconds = time.monotonic() - started
        threshold = self.transfer_config().multipart_threshold
        resumed = sum(r.bytes_held for r in claimed.values())
        return SyncResult(plan, url=self.uri(target), bytes_sent=plan.upload_bytes - resumed, metadata={
            "s3_uris": [self.uri(target, u.path) for u in plan.uploads],  # also read by the audit log
            "objects_uploaded": len(items), "objects_deleted": len(plan.deletes),
            "objects_skipped": plan.unchanged, "objects_reencrypted": len(plan.reencrypted),
            "bytes_uploaded": plan.upload_bytes,
            "multipart_objects": sum(i.size >= threshold for i in items), "checksums_compared": checked,
            "upload_checksum": self.digests(target).describe() if items else "none (nothing uploaded)",
            "stale_uploads_aborted": len(aborted), "uploads_continued": len(claimed),
            "bytes_already_uploaded": resumed, "seconds": round(seconds, 3),
            "throughput_mb_s": round(plan.upload_bytes / 1e6 / seconds, 2) if seconds > 0 else 0.0,
            "delete_policy": target.delete_policy, "attempts_per_request": self.attempts})

    def delete_paths(self, target: S3Target, paths: list[str], message: str,
                     readme: Callable[[str | None], str | None] | None = None,
                     create_pr: bool = False) -> SyncResult:
        """Delete objects or folders under the prefix.

        Args:
            target: the dataset's `s3:` section.
            paths: paths relative to the prefix; a folder takes everything under it.
            message, readme, create_pr: Hub notions, ignored here.

        Returns:
            The result; its plan lists what was deleted.

        Raises:
            ProviderError: listing or deleting failed.
        """
        client, base = self.client(), key_prefix(target)
        listed = self._call(f"list {self.uri(target)}", lambda: list_objects(client, target.bucket, base))
        doomed = under(paths, {key[len(base):]: "" for key in listed})
        self._call(f"delete under {self.uri(target)}",
                   lambda: delete_keys(client, target.bucket, [base + p for p in doomed]))
        plan = SyncPlan(target=self.uri(target), deletes=doomed, unchanged=len(listed) - len(doomed))
        return SyncResult(plan, url=self.uri(target))

    def remote_tree(self, target: S3Target) -> dict[str, str]:
        """Every object under the prefix with its sha256 (see s3_tree; cached by ETag and size).

        Args:
            target: the dataset's `s3:` section.

        Returns:
            path relative to the prefix → sha256, or `etag:<etag>` for an object without our metadata.

        Raises:
            ProviderError: listing or reading metadata failed.
        """
        return self._tree(target)[0]

    def _tree(self, target: S3Target, encryption: bool = False) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """remote_tree, and the encryption of our objects (s3_tree.remote_tree): with `encryption`, of all."""
        client = self.client()
        return self._call(f"list {self.uri(target)}", lambda: remote_tree(
            client, target.bucket, key_prefix(target), self._cache(target), self.max_concurrency, encryption))

    def read_text(self, target: S3Target, path: str) -> str | None:
        """A small object's text (the README).

        Args:
            target: the dataset's `s3:` section; path: relative to the prefix.

        Returns:
            The text, or None if there is no such object.

        Raises:
            ProviderError: reading failed for another reason than absence.
        """
        obj = self._unless_absent(f"read {self.uri(target, path)}", lambda: self.client().get_object(
            Bucket=target.bucket, Key=key_prefix(target) + path))
        if obj is None:
            return None
        with obj["Body"] as body:
            return body.read().decode("utf-8")

    def object_sha256(self, target: S3Target, path: str) -> str | None:
        """The sha256 of one object, as the remote tree reads it.

        Args:
            target: the dataset's `s3:` section; path: relative to the prefix.

        Returns:
            The sha256, or None if the object is absent, has none, or is not encrypted as the dataset's `sse`
            asks (an archive written before `sse` was set: then sent again, encrypted, like a sync's objects).

        Raises:
            ProviderError: the HEAD failed for another reason than absence.
        """
        head = self._unless_absent(f"read {self.uri(target, path)}", lambda: self.client().head_object(
            Bucket=target.bucket, Key=key_prefix(target) + path, ChecksumMode="ENABLED"))
        if not head or encryption_problem(encryption_of(head), encryption_args(target)):
            return None
        return stored_sha256(head)

    def abort_unfinished(self, target: S3Target, folder: str) -> list[str]:
        """Abort every unfinished upload under `folder` (relative to the prefix; the caller's own, none of which
        it will continue); returns their keys."""
        self._check_bucket(target)
        client = self.client()
        _, aborted = self._call(
            f"look at unfinished uploads under {self.uri(target, folder)}",
            lambda: claim_stale_uploads(client, target.bucket, key_prefix(target) + folder, [],
                                        self.transfer_config(), self.digests(target).sha256))
        return aborted

    def put_file(self, target: S3Target, path: str, source: Path, sha256: str) -> str:
        """Upload one local file under the prefix and verify it, as a sync does; an unfinished upload of it (in
        its folder) is continued, the others there aborted.

        Args:
            target: the dataset's `s3:` section.
            path: where, relative to the prefix.
            source: the local file; sha256: its hash, stored in the object's metadata.

        Returns:
            The object's s3:// URI.

        Raises:
            ProviderError: the upload or its verification failed, or, with `sse`, the server did not apply the
                encryption (the object is kept).
        """
        self._check_bucket(target)
        client, item = self.client(), Item(key_prefix(target) + path, source.stat().st_size, sha256, source)
        # Unfinished uploads in the file's folder (the archives) are this call's to continue or abort.
        folder = item.key[:item.key.rfind("/") + 1]
        claimed, _ = self._call(
            f"look at unfinished uploads under {self.uri(target)}",
            lambda: claim_stale_uploads(client, target.bucket, folder, [item], self.transfer_config(),
                                        self.digests(target).sha256, target.storage_class))
        self._send(target, [item], self._cache(target), claimed)
        return self.uri(target, path)

    def _send(self, target: S3Target, items: list[Item], cache: HeadCache,
              claimed: dict[str, Resumable] | None = None) -> int:
        """Upload `items` (continuing the `claimed` unfinished uploads) and verify them, their encryption too;
        returns how many had their server checksum compared."""
        if not items:
            return 0
        verified, failures = self._upload(target, items, claimed or {})
        wanted = encryption_args(target)
        for done in verified:
            cache.put(done.item.key, done.etag, done.item.size, done.item.sha256, done.encryption)
            # A store that takes the sse header but does not apply it (or report it): the object is kept and
            # cached as it is, so the next plan sends it again and fails again, loudly, rather than every publish
            # uploading it again in silence while the user believes the data encrypted.
            failure = encryption_failure(target.bucket, done, wanted)
            if failure:
                failures[done.item.key] = failure
        cache.save()  # what did arrive is known next time, even when something else failed
        if failures:
            raise first_failure(failures, len(items), target.bucket, self.attempts)
        return sum(done.checksum_compared for done in verified)

    def _upload(self, target: S3Target, items: list[Item],
                claimed: dict[str, Resumable]) -> tuple[list[Verified], dict[str, BaseException]]:
        client, config, checksum = self.client(), self.transfer_config(), self.digests(target).sha256
        extra, encryption = target_args(target), encryption_args(target)
        failures = upload(client, target.bucket, [i for i in items if i.key not in claimed], config, extra, checksum)
        failures |= resume(client, target.bucket, list(claimed.values()), checksum, self.max_concurrency, encryption)
        verified, failures = verify_uploads(client, target.bucket, items, failures, config, self.max_concurrency)
        # A continued upload that fails verification (the file changed since the crash but kept its first parts,
        # or the crashed run encrypted it otherwise) was deleted by the verification: the file is sent whole now,
        # instead of failing the publish.
        again = [i for i in items if i.key in claimed and isinstance(failures.get(i.key), IntegrityError)]
        if not again:
            return verified, failures
        more, failures_again = self._upload(target, again, {})
        resent = {i.key for i in again}
        return verified + more, {k: e for k, e in failures.items() if k not in resent} | failures_again
