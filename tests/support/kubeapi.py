"""A small read-only Kubernetes API server over fixture objects, and a kubeconfig writer for it.

It speaks enough of the real API for kubectl and lightkube: discovery (/version, /api, /apis,
/api/v1, /apis/apps/v1, /apis/batch/v1), list (all namespaces or one, `limit`/`continue`
paging, equality and existence `labelSelector`), get, and watch (initial ADDED events, changes
made through `put`/`delete`, bookmarks, `timeoutSeconds`). Optional bearer token (401) and
per-resource denial (403) test the error paths.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

__all__ = ["RESOURCES", "FakeKubeAPI", "KubeContext", "Resource", "write_kubeconfig"]

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["get", "list", "watch"],
        }
        if self.short:
            out["shortNames"] = list(self.short)
        if self.kind not in ("Node", "Namespace"):
            out["categories"] = ["all"]
        return out


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "pods", "pod", "Pod", True, ("po",)),
    Resource("", "v1", "nodes", "node", "Node", False, ("no",)),
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",)),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",)),
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",)),
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",)),
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",)),
    Resource("batch", "v1", "jobs", "job", "Job", True, ()),
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",)),
)
_BY_KIND = {r.kind: r for r in RESOURCES}
_NOT_SERVED = "the server could not find the requested resource"
_BY_PATH = {(r.group_version, r.plural): r for r in RESOURCES}


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def _match(labels: dict[str, str], selector: str | None) -> bool:
    """Equality-based selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (AND)."""
    if not selector:
        return True
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


class _Store:
    """Objects by resource, pre-encoded so that listing 50k pods is a join of bytes."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.rv = 1
        # resource plural -> {(namespace, name): (object, encoded bytes)}
        self.objects: dict[str, dict[tuple[str, str], tuple[dict[str, Any], bytes]]] = {
            r.plural: {} for r in RESOURCES
        }
        self._sorted: dict[str, list[tuple[dict[str, Any], bytes]]] = {}
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, plural, type, obj)

    def put(self, obj: dict[str, Any], *, event: bool = True) -> None:
        resource = _BY_KIND[obj["kind"]]
        meta = obj.setdefault("metadata", {})
        with self.lock:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            key = (meta.get("namespace", ""), meta["name"])
            existed = key in self.objects[resource.plural]
            if resource.namespaced and meta.get("namespace") and resource.kind != "Namespace":
                self._ensure_namespace(meta["namespace"])
            self.objects[resource.plural][key] = (obj, json.dumps(obj).encode())
            self._sorted.pop(resource.plural, None)
            if event:
                kind = "MODIFIED" if existed else "ADDED"
                self.events.append((self.rv, resource.plural, kind, obj))
                self.lock.notify_all()

    def _ensure_namespace(self, name: str) -> None:
        if ("", name) in self.objects["namespaces"]:
            return
        ns = {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": name, "uid": f"ns-{name}", "resourceVersion": str(self.rv)},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self.objects["namespaces"][("", name)] = (ns, json.dumps(ns).encode())
        self._sorted.pop("namespaces", None)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        resource = _BY_KIND[kind]
        with self.lock:
            obj, _ = self.objects[resource.plural].pop((namespace, name))
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._sorted.pop(resource.plural, None)
            self.events.append((self.rv, resource.plural, "DELETED", obj))
            self.lock.notify_all()

    def items(self, plural: str) -> list[tuple[dict[str, Any], bytes]]:
        with self.lock:
            cached = self._sorted.get(plural)
            if cached is None:
                objs = self.objects[plural]
                cached = [objs[k] for k in sorted(objs)]
                self._sorted[plural] = cached
            return cached


def _encode_token(offset: int, rv: int) -> str:
    raw = json.dumps({"o": offset, "rv": rv}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[int, int]:
    data = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(data["o"]), int(data["rv"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, data: Any) -> None:
        self._send(code, json.dumps(data).encode())

    def do_GET(self) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        api.requests.append((parts.path, query))
        if api.token is not None:
            header = self.headers.get("Authorization", "")
            if header != f"Bearer {api.token}":
                self._json(401, _status(401, "Unauthorized", "Unauthorized"))
                return
        try:
            self._route(parts.path.rstrip("/") or "/", query)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _route(self, path: str, query: dict[str, str]) -> None:
        if path == "/version":
            self._json(200, SERVER_VERSION)
            return
        if path == "/api":
            address, port = self.server.server_address[:2]
            host = f"{address!s}:{port}"
            self._json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": host}
                    ],
                },
            )
            return
        if path == "/apis":
            self._json(200, _group_list())
            return
        segments = path.strip("/").split("/")
        if segments[0] == "api" and len(segments) >= 2:
            group_version, rest = segments[1], segments[2:]
        elif segments[0] == "apis" and len(segments) >= 3:
            group_version, rest = f"{segments[1]}/{segments[2]}", segments[3:]
        else:
            self._json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        if not rest:
            resources = [r.discovery() for r in RESOURCES if r.group_version == group_version]
            if not resources:
                self._json(
                    404,
                    _status(404, "NotFound", "the server could not find the requested resource"),
                )
                return
            self._json(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": group_version,
                    "resources": resources,
                },
            )
            return
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = _BY_PATH.get((group_version, rest[0]))
        if resource is None or len(rest) > 2 or (namespace is not None and not resource.namespaced):
            self._json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        name = rest[1] if len(rest) == 2 else None
        verb = "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
        if resource.plural in self.server.api.missing:
            self._json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        if resource.plural in self.server.api.forbidden:
            self._forbid(resource, verb, namespace)
            return
        if name is not None:
            self._get(resource, namespace or "", name)
        elif verb == "watch":
            self._watch(resource, namespace, query)
        else:
            self._list(resource, namespace, query)

    def _forbid(self, resource: Resource, verb: str, namespace: str | None) -> None:
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f"{resource.plural}{'.' + resource.group if resource.group else ''} is forbidden: "
            f'User "{self.server.api.user}" cannot {verb} resource "{resource.plural}" in API '
            f'group "{resource.group}" {where}'
        )
        self._json(
            403, _status(403, "Forbidden", message, kind=resource.plural, group=resource.group)
        )

    def _get(self, resource: Resource, namespace: str, name: str) -> None:
        found = self.server.api.store.objects[resource.plural].get((namespace, name))
        if found is None:
            what = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
            self._json(
                404,
                _status(
                    404, "NotFound", f'{what} "{name}" not found', name=name, kind=resource.plural
                ),
            )
            return
        self._send(200, found[1])

    def _selected(
        self, resource: Resource, namespace: str | None, query: dict[str, str]
    ) -> list[tuple[dict[str, Any], bytes]]:
        items = self.server.api.store.items(resource.plural)
        selector = query.get("labelSelector")
        if namespace is None and not selector:
            return items
        return [
            (obj, raw)
            for obj, raw in items
            if (namespace is None or obj["metadata"].get("namespace") == namespace)
            and _match(obj["metadata"].get("labels") or {}, selector)
        ]

    def _list(self, resource: Resource, namespace: str | None, query: dict[str, str]) -> None:
        store = self.server.api.store
        items = self._selected(resource, namespace, query)
        offset = 0
        rv = store.rv
        if query.get("continue"):
            try:
                offset, rv = _decode_token(query["continue"])
            except (ValueError, KeyError):
                self._json(400, _status(400, "BadRequest", "continue key is not valid"))
                return
        limit = int(query.get("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), offset + limit)
        page = items[offset:end]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if end < len(items):
            meta["continue"] = _encode_token(end, rv)
            meta["remainingItemCount"] = len(items) - end
        head = json.dumps(
            {"kind": f"{resource.kind}List", "apiVersion": resource.group_version, "metadata": meta}
        ).encode()
        body = head[:-1] + b', "items": [' + b",".join(raw for _, raw in page) + b"]}"
        self._send(200, body)

    def _watch(self, resource: Resource, namespace: str | None, query: dict[str, str]) -> None:
        api = self.server.api
        store = api.store
        timeout = float(query.get("timeoutSeconds") or api.watch_timeout)
        since = query.get("resourceVersion")
        selector = query.get("labelSelector")
        if since and since != "0" and int(since) < api.oldest_rv:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            gone = _status(410, "Expired", f"too old resource version: {since} ({store.rv})")
            self.wfile.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(kind: str, obj: dict[str, Any]) -> None:
            line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        def wanted(obj: dict[str, Any]) -> bool:
            meta = obj["metadata"]
            return (namespace is None or meta.get("namespace") == namespace) and _match(
                meta.get("labels") or {}, selector
            )

        with store.lock:
            last = store.rv
        if not since or since == "0":
            for obj, _ in self._selected(resource, namespace, query):
                emit("ADDED", obj)
        else:
            last = int(since)
        deadline = time.monotonic() + timeout
        while True:
            with store.lock:
                pending = [e for e in store.events if e[0] > last and e[1] == resource.plural]
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    store.lock.wait(min(remaining, 0.2))
                    continue
                last = max(e[0] for e in store.events)
            for _, _, kind, obj in pending:
                if wanted(obj):
                    emit(kind, obj)
        if query.get("allowWatchBookmarks") == "true":
            emit(
                "BOOKMARK",
                {
                    "kind": resource.kind,
                    "apiVersion": resource.group_version,
                    "metadata": {"resourceVersion": str(store.rv)},
                },
            )
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _group_list() -> dict[str, Any]:
    groups: dict[str, str] = {}
    for r in RESOURCES:
        if r.group:
            groups[r.group] = r.version
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in groups.items()
        ],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows when lightkube opens 8 list connections at
    # once: a dropped SYN costs a 1 s retransmit stall.
    request_queue_size = 128
    api: FakeKubeAPI


class FakeKubeAPI:
    """The fake API server: `with FakeKubeAPI(objects) as api: api.url`.

    `token`: require `Authorization: Bearer <token>` (401 otherwise). `forbidden`: resource
    plurals answered with 403 as RBAC would; `missing`: plurals answered with 404 (kinds an
    older server does not serve). `requests` records (path, query) of every GET.
    """

    def __init__(
        self,
        objects: Iterable[dict[str, Any]] = (),
        *,
        token: str | None = None,
        forbidden: Iterable[str] = (),
        missing: Iterable[str] = (),
        user: str = "system:serviceaccount:tagwatch:tagwatch",
        watch_timeout: float = 2.0,
    ) -> None:
        self.store = _Store()
        self.token = token
        self.forbidden = set(forbidden)
        self.missing = set(missing)  # resources this server does not serve (404), like old APIs
        self.user = user
        self.watch_timeout = watch_timeout
        self.oldest_rv = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        for obj in objects:
            self.store.put(obj, event=False)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def put(self, obj: dict[str, Any]) -> None:
        """Create or replace an object (watchers see ADDED or MODIFIED)."""
        self.store.put(obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.store.delete(kind, namespace, name)

    def compact(self) -> None:
        """Forget history: a watch from an older resourceVersion gets 410 Gone."""
        with self.store.lock:
            self.oldest_rv = self.store.rv
            self.store.events.clear()

    def start(self) -> FakeKubeAPI:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.api = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="fake-kube-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def list_paths(self, plural: str) -> Iterator[tuple[str, dict[str, str]]]:
        return (r for r in self.requests if r[0].endswith(f"/{plural}"))

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class KubeContext:
    """One context of a kubeconfig: a server, and a token or an exec credential plugin."""

    name: str
    server: str
    token: str | None = None
    namespace: str | None = None
    exec_command: list[str] | None = None  # argv of a client.authentication.k8s.io/v1 plugin


def write_kubeconfig(
    path: Path, contexts: list[KubeContext], *, current: str | None = None
) -> Path:
    """Write a kubeconfig with one cluster/user per context; `current` defaults to the first."""
    clusters, users, ctxs = [], [], []
    for c in contexts:
        clusters.append({"name": c.name, "cluster": {"server": c.server}})
        user: dict[str, Any] = {}
        if c.token:
            user["token"] = c.token
        if c.exec_command:
            user["exec"] = {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": c.exec_command[0],
                "args": c.exec_command[1:],
                "interactiveMode": "Never",
            }
        users.append({"name": c.name, "user": user})
        context: dict[str, Any] = {"cluster": c.name, "user": c.name}
        if c.namespace:
            context["namespace"] = c.namespace
        ctxs.append({"name": c.name, "context": context})
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": ctxs,
        "current-context": current or (contexts[0].name if contexts else ""),
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
