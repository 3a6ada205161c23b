"""kill -9 of `tagwatch run` at random points of a stream of re-pushes and cluster scans:
every move and every episode's opening and resolution reach Slack exactly once.

The kill points are drawn from a seed (printed; `TW_KILL9_SEED=<n>` replays one). The outcome
does not depend on them: the stream waits for each push to be recorded (so the poller cannot
miss one) and for each cluster state to be seen, however many restarts that takes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagwatch.core.alerts import move_key
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, moves_of
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Condition
from tagwatch.store import Store
from tagwatch.store.events import EventState
from tests.cluster.test_skew_cli import _deployment
from tests.service.test_kill9 import Process, wait_for
from tests.support import kube_fixtures as kf
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry
from tests.support.services import SLACK_ENV, service_config
from tests.support.slack import FakeSlack

STREAM_TAGS = ("s0", "s1", "s2", "s3")
#: Where each tag's alerts go: two channels for the stream (Slack paces a channel at about a
#: message a second), one for the cluster's tag and its findings.
CHANNELS = {"s0": "C-GENERAL", "s1": "C-GENERAL", "s2": "C-RANDOM", "s3": "C-RANDOM"}
CLUSTER_CHANNEL = "C-DEPLOYS"
PUSHES = 12
KILLS = 3
WAIT = 90.0  # generous: a restart on a loaded runner takes tens of seconds


class Service:
    """The one `tagwatch run` process of the test, and its replacement after each kill."""

    def __init__(self, config: Path, url: str, logs: Path) -> None:
        self.config, self.url, self.logs = config, url, logs
        self.pycache = logs / "pycache"
        self.started: list[Process] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        log = self.logs / f"run-{len(self.started) + 1}.log"
        process = Process(self.config, log, pycache=self.pycache)
        with self.lock:
            self.started.append(process)
        process.wait_healthy(self.url)

    def kill9(self) -> None:
        with self.lock:
            current = self.started[-1]
        current.kill9()

    def close(self) -> None:
        for process in self.started:
            process.close()


class Killer(threading.Thread):
    """kill -9 the service `KILLS` times and start it again at once. Each kill is one of, in a
    random order: a random while after the restart was healthy; a random while after Slack
    took a message (mid-batch); and right after Slack took a message whose answer never
    comes (between Slack's OK and the outbox's mark, the window only a lookup can close)."""

    def __init__(self, service: Service, slack: FakeSlack, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.slack = slack
        self.plan = [
            (mode, rng.uniform(0.5, 3.0) if mode == "timer" else rng.uniform(0.0, 0.3))
            for mode in rng.sample(["timer", "after-post", "accept-hang"], KILLS)
        ]
        self.error: BaseException | None = None
        self.kills: list[str] = []

    def _after_a_post(self, pause: float) -> None:
        seen = len(self.slack.posts)
        wait_for(lambda: len(self.slack.posts) > seen, WAIT, "a message to kill after")
        time.sleep(pause)

    def run(self) -> None:
        try:
            for mode, pause in self.plan:
                if mode == "timer":
                    time.sleep(pause)
                else:
                    if mode == "accept-hang":
                        self.slack.script("chat.postMessage", "accept-hang")
                    self._after_a_post(pause)
                self.service.kill9()
                self.kills.append(mode)
                self.service.start()
        except BaseException as exc:  # pytest.fail inside the thread: re-raised by the test
            self.error = exc


@pytest.mark.timeout(300)  # four starts of the service; about 40 s on a quiet runner
def test_kill_9_at_random_points_of_moves_and_scans_loses_and_doubles_nothing(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    db: str,
) -> None:
    seed = int(os.environ.get("TW_KILL9_SEED") or random.SystemRandom().randrange(10**6))
    print(f"kill -9 stream: TW_KILL9_SEED={seed}")
    rng = random.Random(seed)
    host = registry.host
    refs = {tag: ImageRef.parse(f"{host}/{repo_name}:{tag}") for tag in (*STREAM_TAGS, "prod")}
    pushed: dict[str, list[Digest]] = {
        tag: [registry.push_image(repo_name, tag, content=f"{tag}-0")] for tag in STREAM_TAGS
    }
    d1 = registry.push_image(repo_name, "prod", content="prod-1")
    pushed["prod"] = [d1]

    # The cluster runs `prod` on two nodes that hold its bytes: uniform, nothing at risk.
    name = f"{host}/{repo_name}"
    ref = str(refs["prod"])
    t0 = datetime.now(UTC) - timedelta(hours=1)

    def api(digests: tuple[Digest, Digest]) -> list[dict[str, Any]]:
        pods = [
            (f"api-5d8f7b-{node}", f"node-{node}", t0, f"{name}@{digest}")
            for node, digest in zip("ab", digests, strict=True)
        ]
        return _deployment("api", ref, pods, policy="IfNotPresent")

    def node(which: str, digest: Digest) -> dict[str, Any]:
        return kf.node(f"node-{which}", images=[[f"{name}@{digest}", f"{name}:prod"]])

    kube = FakeKubeAPI([*api((d1, d1)), node("a", d1), node("b", d1)]).start()
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, [KubeContext("fake", kube.url)])
    routes = [
        {
            "channel": channel,
            "patterns": [f"{name}:{tag}" for tag, c in CHANNELS.items() if c == channel],
        }
        for channel in sorted(set(CHANNELS.values()))
    ] + [{"channel": CLUSTER_CHANNEL, "patterns": [f"{name}:prod"]}]
    config = service_config(
        tmp_path,
        db=db,
        watches=[{"ref": str(r), "interval": "300ms"} for r in refs.values()],
        slack=None,
        clusters=[{"name": "kill9", "kubeconfig": str(kubeconfig), "interval": "400ms"}],
    )
    data = yaml.safe_load(config.read_text())
    data["slack"] = {  # routes only, no default channel
        "bot_token_env": SLACK_ENV,
        "base_url": slack.api_url,
        "routes": routes,
    }
    config.write_text(yaml.safe_dump(data))
    url = f"http://{data['listen']}"
    store = Store.open(db)
    service = Service(config, url, tmp_path)

    def digests(tag: str) -> list[Digest | None]:
        with store.begin() as tx:
            return [s.digest for s in tx.history(refs[tag]).sightings]

    def recorded(tag: str) -> Callable[[], bool]:
        """Whether the history of `tag` holds every push so far, in order."""
        return lambda: digests(tag) == pushed[tag]

    def episodes() -> list[tuple[str, Condition, bool]]:
        with store.begin() as tx:
            found = tx.episodes.recent(cluster="kill9")
        return sorted((e.name, e.condition, e.closed_at is not None) for e in found)

    try:
        service.start()
        for tag in pushed:
            wait_for(recorded(tag), WAIT, f"the first sighting of {tag}")
        killer = Killer(service, slack, rng)
        killer.start()
        print(f"kill -9 plan (mode, pause in s): {[(m, round(p, 2)) for m, p in killer.plan]}")

        step = 0
        # The stream goes on while kills are due (two of them wait for a message to kill after).
        while step < PUSHES or (killer.is_alive() and step < PUSHES + 40):
            # Skewed at first (one hot tag), then uniform over the tags.
            weights = [8, 1, 1, 1] if step < PUSHES // 2 else [1, 1, 1, 1]
            [tag] = rng.choices(STREAM_TAGS, weights=weights)
            # Each push waits for the one before it on the same tag to be recorded: a poller
            # that meets two pushes at once sees only the last, which is no loss of ours.
            wait_for(recorded(tag), WAIT, f"push {step - 1} recorded")
            pushed[tag].append(registry.push_image(repo_name, tag, content=f"{tag}-{step + 1}"))
            time.sleep(rng.uniform(0.0, 0.4))
            if step == 3:
                # A re-push of prod reaches one node: api runs two builds (skewed).
                d2 = registry.push_image(repo_name, "prod", content="prod-2")
                pushed["prod"].append(d2)
                wait_for(lambda: digests("prod") == pushed["prod"], WAIT, "the prod move recorded")
                kube.put(node("b", d2))
                kube.put(api((d1, d2))[-1])
                wait_for(
                    lambda: episodes() == [("api", Condition.SKEWED, False)],
                    WAIT,
                    "the skew episode opening",
                )
            if step == PUSHES - 4:
                # The other pod is replaced too: uniform on the tag's digest again (resolved).
                kube.put(node("a", d2))
                kube.put(api((d2, d2))[-2])
                wait_for(
                    lambda: episodes() == [("api", Condition.SKEWED, True)],
                    WAIT,
                    "the skew episode closing",
                )
            step += 1
        killer.join(WAIT * 2)
        assert killer.error is None, killer.error
        assert len(killer.kills) == KILLS

        # Everything recorded is routed and delivered by the last process.
        for tag in pushed:
            wait_for(recorded(tag), WAIT, f"the last push of {tag}")

        def settled() -> bool:
            with store.begin() as tx:
                return tx.events.counts()[EventState.PENDING] == 0 and tx.outbox.depth() == 0

        wait_for(settled, WAIT, "every event routed and every alert delivered")
        time.sleep(2.0)  # some delivery ticks more: nothing else may arrive

        # The history holds every push, in order (nothing lost on our side).
        for tag, expected in pushed.items():
            assert digests(tag) == expected, f"{tag} (seed {seed})"
        assert episodes() == [("api", Condition.SKEWED, True)], f"seed {seed}"

        posts = slack.posts
        keys = Counter(str((p.metadata or {}).get("event_payload", {}).get("key")) for p in posts)
        doubled = {k: n for k, n in keys.items() if n > 1}
        assert not doubled, f"posted more than once (seed {seed}): {doubled}"
        expected_moves: set[str] = set()
        with store.begin() as tx:
            for tag, r in refs.items():
                channel = CHANNELS.get(tag, CLUSTER_CHANNEL)
                for move in moves_of(tx.history(r)):
                    if move.change is not Change.FIRST_SEEN:
                        expected_moves.add(move_key(move, channel))
        assert len(expected_moves) == sum(len(d) - 1 for d in pushed.values())
        moves = {k for k in keys if k.startswith("move:")}
        assert moves == expected_moves, f"seed {seed}: lost {expected_moves - moves}"
        opened = [p for p in posts if str(p.metadata).count("skew:") == 1]
        resolved = [p for p in posts if p.text.startswith("Resolved after")]
        assert len(opened) == 1 and "api" in opened[0].text and "kill9" in opened[0].text
        assert len(resolved) == 1 and resolved[0].thread_ts is not None
        assert len(posts) == len(expected_moves) + 2, f"seed {seed}: {sorted(keys)}"
    finally:
        service.close()
        kube.stop()
        store.close()
