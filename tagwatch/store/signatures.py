"""What the signing policy said of each digest of a watched tag (queries of `StoreTx`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import SignatureStatus, SignatureVerdict
from tagwatch.store.models import SignatureCheckRow
from tagwatch.store.sql import aware, chunks, insert

__all__ = ["SignaturesMixin"]


class SignaturesMixin:
    """The signature-check queries of `StoreTx`."""

    _session: Session

    def record_signature(
        self, ref: ImageRef, digest: Digest, verdict: SignatureVerdict, *, at: datetime
    ) -> None:
        """Keep `verdict` as what the policy says of `digest` in `ref`'s repository now."""
        values = {
            "host": ref.registry,
            "repository": ref.repository,
            "digest": str(digest),
            "policy": verdict.policy,
            "status": verdict.status.value,
            "signed_by": verdict.signed_by,
            "reason": verdict.reason,
            "checked_at": aware(at),
        }
        keys = ["registry", "repository", "digest", "policy"]
        changed = {k: values[k] for k in ("status", "signed_by", "reason", "checked_at")}
        self._session.execute(
            insert(self._session, SignatureCheckRow)
            .values(**values)
            .on_conflict_do_update(index_elements=keys, set_=changed)
        )

    def signatures(
        self, refs: Iterable[ImageRef] | None = None
    ) -> dict[tuple[str, str, str], SignatureVerdict]:
        """The latest verdicts on the digests of `refs`' repositories (None: every one), keyed
        by (registry, repository, digest). Only digests under a signing policy have one."""
        query = select(SignatureCheckRow).order_by(SignatureCheckRow.checked_at)
        repos = repo_columns = None
        if refs is not None:
            repos = sorted({(r.registry, r.repository) for r in refs})
            repo_columns = tuple_(SignatureCheckRow.host, SignatureCheckRow.repository)
        found: dict[tuple[str, str, str], SignatureVerdict] = {}
        for chunk in [None] if repos is None else chunks(repos, 200):
            chosen = query if chunk is None else query.where(repo_columns.in_(chunk))  # type: ignore[union-attr]
            for row in self._session.execute(chosen).scalars():
                found[(row.host, row.repository, row.digest)] = SignatureVerdict(
                    row.policy, SignatureStatus(row.status), row.signed_by, row.reason
                )
        return found
