"""The outbox (idempotent enqueue, claims, retries) and leases shared by replicas."""

from __future__ import annotations

import threading
from datetime import timedelta

from tagwatch.store import OutboxItem, Store
from tests.store.helpers import at


def _enqueue(store: Store, count: int, *, minute: float = 0) -> None:
    with store.begin() as tx:
        for i in range(count):
            tx.outbox.enqueue(
                key=f"move:{i}:#alerts",
                destination="#alerts",
                kind="move",
                payload={"n": i, "text": "ghcr.io/org/app:prod moved"},
                now=at(minute + i / 60),
            )


def test_enqueue_is_idempotent_by_key_and_keeps_the_transaction_usable(store: Store) -> None:
    with store.begin() as tx:
        assert tx.outbox.enqueue(
            key="k1", destination="#a", kind="move", payload={"x": 1}, now=at(0)
        )
        assert not tx.outbox.enqueue(
            key="k1", destination="#a", kind="move", payload={"x": 2}, now=at(1)
        )
        # the duplicate did not abort the transaction (it would on PostgreSQL without ON CONFLICT)
        assert tx.outbox.enqueue(key="k2", destination="#a", kind="skew", payload={}, now=at(1))
    with store.begin() as tx:
        assert not tx.outbox.enqueue(key="k1", destination="#a", kind="move", payload={}, now=at(2))
        assert tx.outbox.depth() == 2
        items = tx.outbox.claim_due(now=at(5), worker="w")
    assert [(i.key, dict(i.payload), i.attempts, i.created_at) for i in items] == [
        ("k1", {"x": 1}, 0, at(0)),
        ("k2", {}, 0, at(1)),
    ]


def test_claim_deliver_fail_and_retry(store: Store) -> None:
    _enqueue(store, 2)
    with store.begin() as tx:
        first, second = tx.outbox.claim_due(now=at(1), worker="w1")
        assert tx.outbox.claim_due(now=at(1), worker="w2") == []  # both under w1's claim
        tx.outbox.mark_delivered(first.id, now=at(1))
        tx.outbox.mark_failed(second.id, error="slack said 500", retry_at=at(10))
    with store.begin() as tx:
        assert tx.outbox.depth() == 1
        assert tx.outbox.claim_due(now=at(9), worker="w1") == []  # not due before retry_at
        (retried,) = tx.outbox.claim_due(now=at(10), worker="w1")
    assert retried.id == second.id
    assert retried.attempts == 1
    with store.begin() as tx:
        tx.outbox.mark_delivered(retried.id, now=at(11))
        assert tx.outbox.depth() == 0
        assert tx.outbox.claim_due(now=at(100), worker="w1") == []


def test_an_expired_claim_is_claimed_again(store: Store) -> None:
    _enqueue(store, 1)
    with store.begin() as tx:
        (item,) = tx.outbox.claim_due(now=at(1), worker="dead", lease_seconds=60)
    with store.begin() as tx:
        assert tx.outbox.claim_due(now=at(1.5), worker="alive") == []
        (again,) = tx.outbox.claim_due(now=at(2), worker="alive")
    assert again.id == item.id


def test_claim_due_respects_the_limit_oldest_first(store: Store) -> None:
    _enqueue(store, 5)
    with store.begin() as tx:
        batch = tx.outbox.claim_due(now=at(10), worker="w", limit=3)
    assert [i.key for i in batch] == ["move:0:#alerts", "move:1:#alerts", "move:2:#alerts"]


def test_claims_by_two_workers_never_overlap(store_url: str) -> None:
    """Two connections claim at once: on PostgreSQL SKIP LOCKED hands each a disjoint set
    without waiting; on SQLite the second claim waits for the first commit and sees its claims."""
    first, second = Store.open(store_url), Store.open(store_url)
    _enqueue(first, 10)
    postgres = first.engine.dialect.name == "postgresql"
    claimed: dict[str, list[OutboxItem]] = {}
    first_claimed, second_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker_a() -> None:
        try:
            with first.begin() as tx:
                claimed["a"] = tx.outbox.claim_due(now=at(1), worker="a", limit=6)
                first_claimed.set()
                if postgres:  # hold the row locks until the other worker has claimed
                    assert second_done.wait(20), "worker b was blocked by worker a's locks"
        except BaseException as exc:
            errors.append(exc)
            first_claimed.set()

    def worker_b() -> None:
        try:
            assert first_claimed.wait(20)
            with second.begin() as tx:
                claimed["b"] = tx.outbox.claim_due(now=at(1), worker="b", limit=6)
            second_done.set()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker_a), threading.Thread(target=worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first.close()
    second.close()
    assert errors == []
    a = {i.id for i in claimed["a"]}
    b = {i.id for i in claimed["b"]}
    assert len(a) == 6
    assert len(b) == 4
    assert not a & b


def test_a_lease_is_taken_renewed_refused_taken_over_and_released(store: Store) -> None:
    with store.begin() as tx:
        assert tx.leases.acquire("scheduler", holder="r1", now=at(0), ttl_seconds=60)
        assert tx.leases.acquire("scheduler", holder="r1", now=at(0.5), ttl_seconds=60)  # renew
        assert not tx.leases.acquire("scheduler", holder="r2", now=at(1), ttl_seconds=60)
        assert tx.leases.acquire("other", holder="r2", now=at(1), ttl_seconds=60)
    with store.begin() as tx:
        # r1 renewed at 0.5 until 1.5: r2 may take over only after that
        assert not tx.leases.acquire("scheduler", holder="r2", now=at(1.4), ttl_seconds=60)
        assert tx.leases.acquire("scheduler", holder="r2", now=at(1.5), ttl_seconds=60)
        assert not tx.leases.acquire("scheduler", holder="r1", now=at(2), ttl_seconds=60)
        tx.leases.release("scheduler", holder="r1")  # not r1's any more: no effect
        assert not tx.leases.acquire("scheduler", holder="r1", now=at(2), ttl_seconds=60)
        tx.leases.release("scheduler", holder="r2")
        assert tx.leases.acquire("scheduler", holder="r1", now=at(2), ttl_seconds=60)


def test_two_replicas_racing_for_a_free_lease_get_it_once(store_url: str) -> None:
    stores = [Store.open(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores), timeout=20)
    results: dict[str, bool] = {}

    def race(store: Store, holder: str) -> None:
        barrier.wait()
        with store.begin() as tx:
            results[holder] = tx.leases.acquire("cycle", holder=holder, now=at(0), ttl_seconds=30)

    threads = [
        threading.Thread(target=race, args=(s, f"replica-{n}")) for n, s in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in stores:
        store.close()
    assert len(results) == len(stores)
    assert sum(results.values()) == 1


def test_outbox_times_are_aware_utc(store: Store) -> None:
    _enqueue(store, 1)
    with store.begin() as tx:
        (item,) = tx.outbox.claim_due(now=at(1), worker="w")
    assert item.created_at.utcoffset() == timedelta(0)
