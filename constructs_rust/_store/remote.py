"""The shared build cache: artifacts of ``target/constructs-rust/artifacts/<fingerprint>/`` on S3.

Lookup order for a function's fingerprint (see ``BuildQueue._run_group`` in _build/queue.py):
the local cache, then this remote cache, then a build. A remote hit is downloaded into the local
cache (temp dir, verified, renamed, under the workspace lock) and runs no cargo; in
``read-write`` mode an artifact built locally is uploaded afterwards. ``read`` mode never writes.

Layout under ``s3://<bucket>/<prefix>/``::

    v1/<fingerprint>/files/<relative path>  every file of the artifact dir (bootstrap, hook
                                            outputs, …)
    v1/<fingerprint>/manifest.json          written LAST: sha256, size and mode of every file,
                                            the fingerprint inputs, toolchain identity, time

Readers ignore a fingerprint without a manifest (an upload in progress or interrupted) and
verify every downloaded file against it; a mismatch is one warning and a local build. The
remote never decides an asset hash: the fingerprint is computed locally from the sources, the
remote only supplies bytes that must match what its manifest promises for that fingerprint.

Never breaks a synth: no boto3, no credentials, no bucket, no network, throttling or a timeout
print one warning line (cause and fix) and the function builds locally. Timeouts are bounded
(``CONNECT_TIMEOUT``/``READ_TIMEOUT``, ``MAX_ATTEMPTS``); after the first such failure the
remote is not asked again during this synth. Transfers of N artifacts run concurrently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from .._fingerprint.record import Record
from .._support import log
from . import artifacts
from .remote_config import ENV_URL, FIX_OFF, RemoteCacheConfig, resolve_config
from .remote_manifest import (
    FINGERPRINT_PATTERN,
    LAYOUT_VERSION,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    Invalid,
    Unavailable,
    build_manifest,
    check_manifest,
    safe_relpath,
)

#: Bounded network behaviour: a dead endpoint costs at most CONNECT_TIMEOUT or READ_TIMEOUT
#: (plus boto3's start-up) once per synth: lookups run in parallel, there is no retry (a retry
#: would add the timeout again plus a backoff of up to 2 s; a failed lookup only costs a local
#: build), and after the first failure the remote is not asked again.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
MAX_ATTEMPTS = 1
WORKERS = 16


_say = log.say


class RemoteCache:
    """One app's view of the remote cache: a boto3 S3 client, counters and the warnings."""

    def __init__(self, config: RemoteCacheConfig, client: Any = None) -> None:
        self.config = config
        self._client = client
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.unavailable: Optional[str] = None
        self.stats = {
            "hits": 0,
            "misses": 0,
            "invalid": 0,
            "objects_down": 0,
            "bytes_down": 0,
            "uploaded": 0,
            "objects_up": 0,
            "bytes_up": 0,
        }

    # ------------------------------------------------------------------ plumbing

    def key(self, fingerprint: str, name: str) -> str:
        if not FINGERPRINT_PATTERN.match(fingerprint):
            raise ValueError(f"not a fingerprint: {fingerprint!r}")
        base = f"{LAYOUT_VERSION}/{fingerprint}/"
        rel = MANIFEST if name == MANIFEST else "files/" + safe_relpath(name)
        prefix = f"{self.config.prefix}/" if self.config.prefix else ""
        key = prefix + base + rel
        assert key.startswith(prefix + base) and ".." not in key.split("/")
        return key

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3  # type: ignore[import-untyped]
                from botocore.config import Config  # type: ignore[import-untyped]
            except ImportError:
                raise Unavailable(
                    "boto3 is not installed",
                    "pip install 'constructs-rust[remote-cache]' (or boto3) " + FIX_OFF,
                ) from None
            self._client = boto3.session.Session().client(
                "s3",
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                    retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                    max_pool_connections=WORKERS,
                    user_agent_extra="constructs-rust-remote-cache",
                ),
            )
        return self._client

    def _classify(self, exc: BaseException, action: str) -> Unavailable:
        """A botocore failure → Unavailable with its cause and fix."""
        name = type(exc).__name__
        code = ""
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
        where = self.config.url
        if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
            return Unavailable(
                f"no AWS credentials to {action} {where}",
                "configure credentials (environment, profile, SSO or an instance role) " + FIX_OFF,
            )
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            grant = "grant_read_write" if action == "write" else "grant_read"
            return Unavailable(
                f"access denied ({code}) to {action} {where}",
                f"give this identity RustBuildCache.{grant}(...) on the bucket " + FIX_OFF,
            )
        if code == "NoSuchBucket":
            return Unavailable(
                f"the bucket {self.config.bucket} does not exist",
                f"deploy a RustBuildCache or fix {ENV_URL} " + FIX_OFF,
            )
        if code in ("SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded"):
            return Unavailable(
                f"S3 throttled the request ({code}) to {action} {where}", "retry later " + FIX_OFF
            )
        detail = str(exc).splitlines()[0][:200] if str(exc) else name
        return Unavailable(
            f"cannot {action} {where}: {detail}",
            "check the network, the region and AWS_ENDPOINT_URL_S3 " + FIX_OFF,
        )

    def _disable(self, problem: Unavailable) -> None:
        with self._lock:
            if self.unavailable is None:
                self.unavailable = problem.cause
                _say(
                    f"WARNING remote build cache not used: {problem.cause} (after "
                    f"{time.monotonic() - self._started:.1f} s on the network); building locally. "
                    f"Fix: {problem.fix}"
                )

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for k, v in deltas.items():
                self.stats[k] += v

    @staticmethod
    def _is_missing(exc: BaseException) -> bool:
        response = getattr(exc, "response", None)
        code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
        return code in ("NoSuchKey", "404", "NotFound")

    # ------------------------------------------------------------------ read

    def _get(self, key: str, limit: int) -> bytes:
        response = self.client().get_object(Bucket=self.config.bucket, Key=key)
        body = response["Body"]
        try:
            data: bytes = body.read(limit + 1)
        finally:
            body.close()
        if len(data) > limit:
            raise Invalid(f"{key} is larger than expected")
        self._count(objects_down=1, bytes_down=len(data))
        return data

    def fetch_record(self, static_key: str) -> Optional[Record]:
        """The discovered inputs another machine recorded for these static inputs (None when
        there is none or the remote is unusable; never an error)."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
        )

        if self.unavailable:
            return None
        try:
            raw = self._get(self.record_key(static_key), MAX_MANIFEST_BYTES)
            return Record.from_json(json.loads(raw))
        except Unavailable as problem:
            self._disable(problem)
        except ClientError as exc:
            if not self._is_missing(exc):
                self._disable(self._classify(exc, "read"))
        except BotoCoreError as exc:
            self._disable(self._classify(exc, "read"))
        except (Invalid, ValueError):
            pass  # a malformed record is no record
        return None

    def upload_record(self, static_key: str, record: Record) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.config.writes or self.unavailable:
            return
        try:
            self.client().put_object(
                Bucket=self.config.bucket,
                Key=self.record_key(static_key),
                Body=json.dumps(record.to_json(), sort_keys=True).encode(),
                ContentType="application/json",
            )
        except Unavailable as problem:
            self._disable(problem)
        except (ClientError, BotoCoreError) as exc:
            self._disable(self._classify(exc, "write"))

    def record_key(self, static_key: str) -> str:
        if not FINGERPRINT_PATTERN.match(static_key):
            raise ValueError(f"not a key: {static_key!r}")
        prefix = f"{self.config.prefix}/" if self.config.prefix else ""
        return f"{prefix}{LAYOUT_VERSION}/records/{static_key}.json"

    def _fetch_one(self, fingerprint: str, final: Path, required: str = "bootstrap") -> str:
        """Download one artifact into ``final`` (temp dir + verify + rename): hit/miss/invalid."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
        )

        if self.unavailable:
            return "skipped"
        try:
            try:
                raw = self._get(self.key(fingerprint, MANIFEST), MAX_MANIFEST_BYTES)
            except ClientError as exc:
                if self._is_missing(exc):
                    return "miss"
                raise
            try:
                manifest = json.loads(raw)
            except ValueError:
                raise Invalid("the manifest is not JSON") from None
            files = check_manifest(fingerprint, manifest, required)
            tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
            tmp.mkdir(parents=True)
            try:
                for entry in files:
                    rel = entry["path"]
                    try:
                        data = self._get(self.key(fingerprint, rel), entry["size"])
                    except ClientError as exc:
                        if self._is_missing(exc):
                            raise Invalid(f"{rel!r} is listed but missing") from None
                        raise
                    if (
                        len(data) != entry["size"]
                        or hashlib.sha256(data).hexdigest() != entry["sha256"]
                    ):
                        raise Invalid(f"{rel!r} does not match its sha256/size in the manifest")
                    dest = tmp.joinpath(*rel.split("/"))
                    if tmp.resolve() not in dest.resolve().parents:
                        raise Invalid(f"{rel!r} points outside the artifact")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(data)
                    os.chmod(dest, 0o755 if entry.get("executable") else 0o644)
                artifacts.seal(tmp)
                try:
                    os.rename(tmp, final)
                except OSError:
                    if not (final / required).is_file():
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            return "hit"
        except Invalid as exc:
            _say(
                f"WARNING remote build cache: artifact {fingerprint[:12]}… ignored ({exc}); "
                "building locally. Fix: none needed here; whoever can write the cache should "
                "check who wrote it (the object may have been tampered with)"
            )
            return "invalid"
        except (ClientError, BotoCoreError) as exc:
            self._disable(self._classify(exc, "read"))
            return "skipped"

    def fetch(self, wanted: Mapping[str, Tuple[Path, str]]) -> Dict[str, str]:
        """Fetch every ``fingerprint → (local artifact dir, required file)`` concurrently;
        outcome per fingerprint."""
        if not wanted or self.unavailable:
            return {}
        started = self._started = time.monotonic()
        before = dict(self.stats)
        try:
            self.client()
        except Unavailable as problem:
            self._disable(problem)
            return {}
        self._started = time.monotonic()  # the warning reports the time spent on the network
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(wanted))) as pool:
            futures = {
                fp: pool.submit(self._fetch_one, fp, final, required)
                for fp, (final, required) in wanted.items()
            }
            outcomes = {fp: f.result() for fp, f in futures.items()}
        hits = sum(1 for o in outcomes.values() if o == "hit")
        self._count(
            hits=hits,
            misses=sum(1 for o in outcomes.values() if o in ("miss", "skipped")),
            invalid=sum(1 for o in outcomes.values() if o == "invalid"),
        )
        if not self.unavailable:
            _say(
                f"remote build cache {self.config.url} ({self.config.mode}): {hits}/{len(wanted)} "
                f"hits, {self.stats['objects_down'] - before['objects_down']} objects, "
                f"{self.stats['bytes_down'] - before['bytes_down']} bytes "
                f"downloaded in {time.monotonic() - started:.2f} s"
            )
        return outcomes

    # ------------------------------------------------------------------ write

    def _upload_one(self, fingerprint: str, directory: Path, inputs: Sequence[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.unavailable:
            return
        try:
            manifest = build_manifest(fingerprint, directory, inputs)
            for entry in manifest["files"]:
                with open(directory.joinpath(*entry["path"].split("/")), "rb") as fh:
                    self.client().put_object(
                        Bucket=self.config.bucket,
                        Key=self.key(fingerprint, entry["path"]),
                        Body=fh,
                    )
                self._count(objects_up=1, bytes_up=entry["size"])
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            self.client().put_object(
                Bucket=self.config.bucket,
                Key=self.key(fingerprint, MANIFEST),
                Body=body,
                ContentType="application/json",
            )
            self._count(uploaded=1, objects_up=1, bytes_up=len(body))
        except (ClientError, BotoCoreError) as exc:
            self._disable(self._classify(exc, "write"))
        except OSError as exc:
            _say(f"WARNING remote build cache: could not upload {fingerprint[:12]}…: {exc}")

    def upload(self, items: Sequence[Tuple[str, Path, Sequence[str]]]) -> None:
        """Upload locally built artifacts (read-write mode only), concurrently, manifest last."""
        if not items or not self.config.writes or self.unavailable:
            return
        started = self._started = time.monotonic()
        before = dict(self.stats)
        try:
            self.client()
        except Unavailable as problem:
            self._disable(problem)
            return
        self._started = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            for future in [pool.submit(self._upload_one, *item) for item in items]:
                future.result()
        if not self.unavailable:
            _say(
                f"remote build cache {self.config.url}: uploaded "
                f"{self.stats['uploaded'] - before['uploaded']} artifacts "
                f"({self.stats['objects_up'] - before['objects_up']} objects, "
                f"{self.stats['bytes_up'] - before['bytes_up']} bytes) in "
                f"{time.monotonic() - started:.2f} s"
            )


def from_environment(context: Callable[[str], Any]) -> Optional[RemoteCache]:
    """The app's remote cache, or None when none is configured (or mode is ``off``)."""
    config = resolve_config(os.environ, context)
    return RemoteCache(config) if config else None
