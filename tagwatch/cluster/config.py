"""Connecting to Kubernetes: kubeconfig (contexts, KUBECONFIG lists, exec plugins) or in-cluster."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import msgspec
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, NameValue, User, UserExec
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from tagwatch.core.yaml_documents import yaml_mapping
from tagwatch.errors import ConfigError

__all__ = ["ClusterSettings", "connect", "load_config"]

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_EXEC_VERSIONS = ("client.authentication.k8s.io/v1alpha1", "client.authentication.k8s.io/v1beta1")


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Where to find the cluster: `--kubeconfig`, `--context`, else KUBECONFIG / in-cluster."""

    kubeconfig: str | None = None
    context: str | None = None
    timeout: float = 30.0
    service_account: Path = SERVICE_ACCOUNT


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block, /dev/zero never end
            raise ConfigError(f"kubeconfig {path} is not a regular file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"kubeconfig {path} does not exist: pass --kubeconfig or set KUBECONFIG"
        ) from None
    except OSError as exc:
        raise ConfigError(f"kubeconfig {path} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:  # binary, UTF-16, Latin-1: YAML here is UTF-8
        raise ConfigError(f"kubeconfig {path} is not UTF-8 text: is it a kubeconfig?") from None
    return yaml_mapping(
        text,
        not_yaml=f"kubeconfig {path} is not readable YAML: ",
        too_deep=f"kubeconfig {path} is nested too deeply to be a kubeconfig",
        not_mapping=f"kubeconfig {path} is not a kubeconfig (expected a mapping)",
    )


def _merge(paths: list[Path]) -> dict[str, Any]:
    """Merge a KUBECONFIG list as kubectl does: the first file to set a name or a key wins."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {"clusters": set(), "contexts": set(), "users": set()}
    for path in paths:
        data = _read_yaml(path)
        if "current-context" not in merged and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        for section in ("clusters", "contexts", "users"):
            for entry in data.get(section) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if name and name not in seen[section]:
                    seen[section].add(name)
                    # Relative paths in a file are relative to that file.
                    merged[section].append(_absolutise(entry, path.parent))
    return merged


def _absolutise(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(entry)
    for section in ("cluster", "user"):
        body = entry.get(section)
        if not isinstance(body, dict):
            continue
        fixed = dict(body)
        for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
            value = fixed.get(key)
            if isinstance(value, str) and value and not os.path.isabs(value):
                fixed[key] = str(base / value)
        out[section] = fixed
    return out


def _paths(settings: ClusterSettings, env: Mapping[str, str]) -> list[Path] | None:
    if settings.kubeconfig:
        return [Path(settings.kubeconfig).expanduser()]
    raw = env.get("KUBECONFIG")
    if raw:
        paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
        existing = [p for p in paths if p.exists()]
        if not existing:
            raise ConfigError(f"KUBECONFIG names no existing file: {raw}")
        return existing
    return None


def _in_cluster(settings: ClusterSettings, env: Mapping[str, str]) -> bool:
    return (
        bool(env.get("KUBERNETES_SERVICE_HOST")) and (settings.service_account / "token").exists()
    )


def _service_account(account: Path, env: Mapping[str, str]) -> SingleConfig | None:
    """The in-cluster config: API at KUBERNETES_SERVICE_HOST:PORT, the pod's (rotated) token."""
    host = env["KUBERNETES_SERVICE_HOST"]
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    namespace_file = account / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.exists() else None
    ca = account / "ca.crt"
    config = KubeConfig.from_one(
        cluster=Cluster(
            server=f"https://{host}:{port}",
            certificate_auth=str(ca) if ca.exists() else None,
        ),
        user=User(token_file=str(account / "token")),
        namespace=namespace,
    )
    return config.get()


def load_config(settings: ClusterSettings, env: Mapping[str, str] | None = None) -> SingleConfig:
    """The one context to use; raises ConfigError for a missing file, bad YAML or unknown context.

    Order: --kubeconfig, then KUBECONFIG (a list, merged), then the in-cluster service account
    (when running in a pod and no --context is asked), then ~/.kube/config.
    """
    env = os.environ if env is None else env
    paths = _paths(settings, env)
    try:
        if paths is None and settings.context is None and _in_cluster(settings, env):
            single = _service_account(settings.service_account, env)
        else:
            if paths is None:
                default = Path("~/.kube/config").expanduser()
                if not default.exists():
                    raise ConfigError(
                        "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, create "
                        "~/.kube/config, or run in a pod with a service account"
                    )
                paths = [default]
            merged = _merge(paths)
            config = KubeConfig.from_dict(merged, fname=paths[0])
            if settings.context is not None and settings.context not in config.contexts:
                known = ", ".join(sorted(config.contexts)) or "none"
                raise ConfigError(
                    f"context {settings.context!r} is not in the kubeconfig (contexts: {known})"
                )
            if settings.context is None and not config.current_context:
                raise ConfigError("the kubeconfig has no current-context: pass --context NAME")
            single = config.get(settings.context)
    except LightkubeConfigError as exc:
        raise ConfigError(f"Kubernetes configuration: {exc}") from exc
    except KeyError as exc:
        raise ConfigError(
            f"kubeconfig refers to {exc.args[0]!r}, which it does not define"
        ) from exc
    except (msgspec.ValidationError, TypeError) as exc:
        raise ConfigError(f"kubeconfig is malformed: {exc}") from exc
    if single is None:
        raise ConfigError("the kubeconfig selects no context: pass --context NAME")
    return _fix_user(single)


def _fix_user(single: SingleConfig) -> SingleConfig:
    """lightkube needs a user, and knows exec plugins only up to v1beta1: adapt both."""
    user = single.user or User()
    if user.exec is not None:
        exec_ = user.exec
        api = exec_.apiVersion
        if api == "client.authentication.k8s.io/v1":
            api = "client.authentication.k8s.io/v1beta1"  # same ExecCredential reply
        elif api not in _EXEC_VERSIONS:
            raise ConfigError(f"exec credential plugin apiVersion {api!r} is not supported")
        info = json.dumps(
            {
                "apiVersion": exec_.apiVersion,
                "kind": "ExecCredential",
                "spec": {"interactive": False},
            }
        )
        extra = [*(exec_.env or []), NameValue(name="KUBERNETES_EXEC_INFO", value=info)]
        user = msgspec.structs.replace(
            user,
            exec=UserExec(
                apiVersion=api,
                command=exec_.command,
                env=extra,
                args=exec_.args,
                installHint=exec_.installHint,
            ),
        )
    return single._replace(user=user)


def connect(settings: ClusterSettings, env: Mapping[str, str] | None = None) -> AsyncClient:
    """An async lightkube client for the chosen context; close it with `await client.close()`."""
    single = load_config(settings, env)
    try:
        return AsyncClient(
            config=single,
            timeout=httpx2.Timeout(settings.timeout),
            lazy=False,
            trust_env=True,
        )
    except (LightkubeConfigError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot use context {single.context_name!r}: {exc}") from exc
