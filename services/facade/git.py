"""Running git safely: bare clones, incremental fetches and streamed logs.

The only module of the facade that starts processes. git always runs

- without a shell (``create_subprocess_exec``), with ``--`` / ``--end-of-options`` before
  anything that came from outside, so a remote or revision can never become an option;
- with a clean environment: no inherited ``GIT_*`` variables, no system or global config,
  English messages (``LC_ALL=C``, stderr is classified by its text);
- with hooks disabled (``core.hooksPath=/dev/null``), no clone templates, no credential
  helper and no prompts, so a repository or the host cannot make git run anything or wait;
- only over https and ssh (plus file and loopback http with ``allow_local``, for tests and
  the fake forge).

Failures map onto ``shared.errors``. Authentication failures are reported as
``NotFoundError`` when no credentials were given (GitHub answers 401 for a repository that
is private *or* missing, so the two are indistinguishable) and as ``AuthError`` when the URL
carried credentials that were refused. A host that cannot be resolved or reached is a
``TransientError``: it says nothing about the repository, and a ``NotFoundError`` would stop
collecting it for good after a passing DNS or network outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path

from shared.errors import (
    AuthError,
    BlockedError,
    FatalError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    WatershedError,
)
from shared.events.v1 import Commit

from .gitlog import LOG_ARGS, LogParser
from .history import is_sha

_READ_SIZE = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; elsewhere the call fails harmlessly
_STDERR_KEEP = 8192

_SAFE_CONFIG = [
    "-c", "core.hooksPath=/dev/null",
    "-c", "credential.helper=",
    "-c", "core.askPass=",
    "-c", "core.fsmonitor=false",
    "-c", "gc.autoDetach=false",
]  # fmt: skip


def _env(allow_local: bool) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=30",
        "GIT_ALLOW_PROTOCOL": "https:ssh:file:http" if allow_local else "https:ssh",
    }
    # ssh needs the home directory for its keys and known hosts, and an agent if one runs.
    for name in ("HOME", "SSH_AUTH_SOCK"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _git(*args: str, allow_local: bool = False) -> list[str]:
    file_allow = "always" if allow_local else "never"
    return ["git", *_SAFE_CONFIG, "-c", f"protocol.file.allow={file_allow}", *args]


async def _spawn(argv: Sequence[str], env: dict[str, str], *, stdin: bool = False) -> asyncio.subprocess.Process:
    # A session of its own, so _kill reaches git's helpers too (git-remote-https, ssh):
    # they hold the pipes open and would outlive a killed git.
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
        limit=_READ_SIZE,
    )
    _widen_stdout(proc)
    return proc


def _widen_stdout(proc: asyncio.subprocess.Process) -> None:
    """Let git run ahead while a chunk is parsed: with the default 64 KiB pipe, git blocks as
    soon as we stop reading, and `git log` and the parser take turns instead of overlapping."""
    transport = getattr(proc, "_transport", None)
    pipe = transport.get_pipe_transport(1) if transport is not None else None
    # asyncio closes the Popen file object it wrapped; the transport keeps the descriptor.
    fileno = getattr(pipe, "_fileno", None)
    if isinstance(fileno, int):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fileno, _F_SETPIPE_SZ, _READ_SIZE)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # Shielded so that a cancelled caller still reaps the child (no zombies).
        await asyncio.shield(proc.wait())


async def _run(
    argv: Sequence[str], *, allow_local: bool = False, timeout: float | None = None, stdin: bytes | None = None
) -> tuple[int, bytes, bytes]:
    proc = await _spawn(argv, _env(allow_local), stdin=stdin is not None)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        raise TransientError(f"git {argv_verb(argv)} timed out after {timeout:g}s") from None
    finally:
        await _kill(proc)
    assert proc.returncode is not None
    return proc.returncode, out, err


def argv_verb(argv: Sequence[str]) -> str:
    """The git subcommand of a command line (the first word after the global options)."""
    it = iter(argv[1:])
    for word in it:
        if word == "-c" or word == "-C":
            next(it, None)
        elif not word.startswith("-"):
            return word
    return "git"


# -------------------------------------------------------------------- remotes

_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._~+-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*:[^/\\]")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def redact(text: str) -> str:
    """``text`` with the user and password of every URL removed."""
    return _USERINFO.sub(r"\1", text)


def has_credentials(remote: str) -> bool:
    return "://" in remote and "@" in remote.split("://", 1)[1].split("/", 1)[0]


def check_remote(remote: str, *, allow_local: bool) -> None:
    """Refuse every remote but https and ssh (and, with ``allow_local``, local ones)."""
    if not remote or remote.startswith("-") or any(c < " " or c == "\x7f" for c in remote):
        raise InvalidInputError(f"refused remote {redact(remote)!r}: not a URL")
    if _TRANSPORT.match(remote):  # ext::<command> would run a program
        raise InvalidInputError(f"refused remote {redact(remote)!r}: transport helpers are not allowed")
    if "://" in remote:
        scheme, rest = remote.split("://", 1)
        authority = rest.split("/", 1)[0]
        host = authority.rpartition("@")[2]
        hostname = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] or host
        scheme = scheme.lower()
        # ssh would read a user or host that starts with "-" as an option (CVE-2017-1000117).
        if authority.startswith("-") or hostname.startswith("-"):
            raise InvalidInputError(f"refused remote {redact(remote)!r}: bad host")
        if scheme in ("https", "ssh") and hostname:
            return
        if allow_local and (scheme == "file" or (scheme == "http" and hostname in _LOOPBACK)):
            return
    elif remote.startswith("/"):
        if allow_local:
            return
    elif _SCP_LIKE.match(remote):  # git@host:owner/name.git is ssh
        return
    raise InvalidInputError(f"refused remote {redact(remote)!r}: only https and ssh remotes are allowed")


# Network failures come first: ssh follows them with "Could not read from remote repository.
# Please make sure you have the correct access rights and the repository exists.", which
# must not read as a missing or private repository.
_RESOLVE = re.compile(r"could not resolve (host(?:name)?|proxy):? '?([^\s':]+)", re.IGNORECASE)
_CONNECT = re.compile(r"(?:failed to connect to|connect to host) (\S+) port (\d+)[^:\n]*: *([^\n]+)", re.IGNORECASE)
_UNREACHABLE = (
    "connection refused", "connection timed out", "network is unreachable", "no route to host",
    "couldn't connect to server", "name or service not known", "temporary failure in name resolution",
)  # fmt: skip
_STATUS = re.compile(r"(?:returned error|error:?) (\d{3})")
_NOT_FOUND = (
    "repository not found", "does not appear to be a git repository", "does not exist",
    "' not found",
)  # fmt: skip
_AUTH = (
    "could not read username", "could not read password", "terminal prompts disabled",
    "authentication failed", "permission denied (publickey", "invalid username or password",
)  # fmt: skip
_TRANSIENT = (
    "timed out", "timeout", "connection reset", "early eof", "hung up unexpectedly",
    "connection refused", "failed to connect", "could not connect", "rpc failed",
    "unexpected disconnect", "operation too slow", "temporary failure", "ssl", "gnutls",
    "broken pipe", "transfer closed", "connection closed by",
)  # fmt: skip


def remote_host(remote: str) -> str | None:
    """The host a remote names (None for a local path), for messages."""
    if "://" in remote:
        authority = remote.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
        if authority.startswith("["):
            return authority[1:].partition("]")[0] or None
        return authority.rpartition(":")[0] or authority or None
    if _SCP_LIKE.match(remote):
        return remote.split(":", 1)[0].rpartition("@")[2]
    return None


def network_failure(stderr: str, host: str | None = None) -> str | None:
    """Why git could not reach the host, naming it; None when the failure came from the host."""
    if m := _RESOLVE.search(stderr):
        what = "proxy" if m.group(1).lower() == "proxy" else "host"
        return f"could not resolve {what} {m.group(2)}"
    if m := _CONNECT.search(stderr):
        return f"could not connect to {m.group(1)} port {m.group(2)}: {m.group(3).strip().rstrip('.')}"
    low = stderr.lower()
    if reason := next((p for p in _UNREACHABLE if p in low), None):
        return f"could not connect to {host or 'the remote host'}: {reason}"
    return None


def classify_failure(verb: str, stderr: str, with_credentials: bool, host: str | None = None) -> WatershedError:
    """Map a failed git command's stderr onto the error taxonomy, in one redacted line.

    ``host`` (the remote's) names the host in messages where git does not."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # git's own verdict is the last fatal/error line; "remote:" chatter only explains it.
    verdicts = [line for line in lines if line.startswith(("fatal:", "error:"))]
    detail = redact((verdicts or lines or ["no message"])[-1])[:500]
    low = stderr.lower()
    status = int(m.group(1)) if (m := _STATUS.search(stderr)) else None
    if status is None and (unreachable := network_failure(stderr, host)):
        return TransientError(f"git {verb}: {redact(unreachable)[:500]}")
    if status in (404, 410) or any(p in low for p in _NOT_FOUND):
        return NotFoundError(f"git {verb}: repository not found ({detail})", status=status)
    if status == 451 or "dmca" in low or "access to this repository has been disabled" in low:
        return BlockedError(f"git {verb}: repository blocked ({detail})", status=status)
    if status == 429:
        return RateLimitedError(f"git {verb}: rate limited ({detail})", status=status)
    if status in (401, 403) or any(p in low for p in _AUTH):
        if with_credentials or "permission denied (publickey" in low:
            return AuthError(f"git {verb}: credentials refused ({detail})", status=status)
        return NotFoundError(f"git {verb}: repository not found or private ({detail})", status=status)
    if (status is not None and status >= 500) or any(p in low for p in _TRANSIENT):
        return TransientError(f"git {verb}: {detail}", status=status)
    return FatalError(f"git {verb} failed: {detail}", status=status)


# --------------------------------------------------------------------- clones


async def sync_bare_clone(remote: str, dest: Path, *, allow_local: bool, timeout: float = 3600) -> None:
    """Make ``dest`` a bare mirror of ``remote``'s branches and tags: clone, or fetch if present
    (and point its HEAD where the remote's points)."""
    check_remote(remote, allow_local=allow_local)
    if dest.exists():
        argv = _git(
            "-C", str(dest), "fetch", "--prune", "--quiet", "--no-write-fetch-head",
            "--end-of-options", remote,
            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
            allow_local=allow_local,
        )  # fmt: skip
        await _check(argv, remote, allow_local=allow_local, timeout=timeout)
        await _follow_remote_head(remote, dest, allow_local=allow_local)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(_remove_stale_temps, dest)
    # Cloned beside the destination and renamed into place, so a killed clone never
    # leaves a half repository where the next run would fetch into it.
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.clone-", dir=dest.parent))
    try:
        argv = _git(
            "clone", "--bare", "--quiet", "--template=", "--no-hardlinks",
            "--", remote, str(tmp),
            allow_local=allow_local,
        )  # fmt: skip
        await _check(argv, remote, allow_local=allow_local, timeout=timeout)
        # The clone stores its URL, which may carry a token; fetches pass the URL anyway.
        await _check(
            _git("-C", str(tmp), "config", "remote.origin.url", redact(remote)),
            remote,
            timeout=60,
        )
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the clone from the analysis service
        tmp.rename(dest)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, True))
        raise


async def _follow_remote_head(remote: str, dest: Path, *, allow_local: bool) -> None:
    """Point the clone's HEAD where the remote's points now. A fetch never moves HEAD, but a
    default branch gets renamed (master -> main) or appears in a repository that was empty
    when it was cloned; a stale HEAD would read (or, once pruned, retract) the wrong history."""
    out = await _check(
        _git("-C", str(dest), "ls-remote", "--symref", "--end-of-options", remote, "HEAD", allow_local=allow_local),
        remote, allow_local=allow_local, timeout=300,
    )
    for line in out.decode("utf-8", "replace").splitlines():
        target, _, name = line.removeprefix("ref: ").partition("\t")
        if line.startswith("ref: ") and name == "HEAD" and target.startswith("refs/heads/"):
            # An empty remote names no HEAD at all, and git refuses a name that is no valid
            # branch name: in both cases the clone's HEAD stays as it is.
            await _run(_git("-C", str(dest), "symbolic-ref", "HEAD", target), timeout=60)
            return


def _remove_stale_temps(dest: Path) -> None:
    for stale in dest.parent.glob(f".{dest.name}.clone-*"):
        shutil.rmtree(stale, ignore_errors=True)


async def _check(
    argv: Sequence[str], remote: str, *, allow_local: bool = False, timeout: float | None, stdin: bytes | None = None
) -> bytes:
    code, out, err = await _run(argv, allow_local=allow_local, timeout=timeout, stdin=stdin)
    if code != 0:
        stderr = err.decode("utf-8", "replace")
        raise classify_failure(argv_verb(argv), stderr, has_credentials(remote), remote_host(remote))
    return out


# ----------------------------------------------------------------- inspection


async def git_output(
    repo_dir: Path, *args: str, stdin: bytes | None = None, timeout: float = 3600, quiet_failure: bool = False
) -> bytes:
    """stdout of a local git command in ``repo_dir`` (no network); a failure is fatal: the
    clone is ours, so git refusing it is a bug or a broken disk, not the remote's doing.
    With ``quiet_failure`` a failure is an answer (``b""``), e.g. ``symbolic-ref`` on a detached HEAD."""
    code, out, err = await _run(_git("-C", str(repo_dir), *args), timeout=timeout, stdin=stdin)
    if code != 0 and quiet_failure:
        return b""
    if code != 0:
        raise FatalError(f"git {args[0]} failed: {redact(_last_line(err.decode('utf-8', 'replace')))}")
    return out


async def sorted_rev_list(repo_dir: Path, tips: Sequence[str], out: Path, *, timeout: float = 3600) -> None:
    """The commits reachable from ``tips``, one name a line in byte order, into the file ``out``:
    git writes to a file and ``sort`` sorts it (spilling to disk beside it), so a history of
    any size costs no memory here."""
    if bad := next((n for n in tips if not is_sha(n)), None):
        raise InvalidInputError(f"invalid object name {bad!r}")
    if not tips:
        out.write_bytes(b"")
        return
    raw = out.with_name(out.name + ".unsorted")
    try:
        with raw.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                *_git("-C", str(repo_dir), "rev-list", "--stdin"), stdin=asyncio.subprocess.PIPE, stdout=sink,
                stderr=asyncio.subprocess.PIPE, env=_env(False), start_new_session=True)
            try:
                _, err = await asyncio.wait_for(proc.communicate("".join(f"{t}\n" for t in tips).encode()), timeout)
            except TimeoutError:
                raise TransientError(f"git rev-list timed out after {timeout:g}s") from None
            finally:
                await _kill(proc)
        if proc.returncode != 0:
            raise FatalError(f"git rev-list failed: {redact(_last_line(err.decode('utf-8', 'replace')))}")
        code, _, err = await _run(["sort", "-S", "16M", "-T", str(out.parent), "-o", str(out), str(raw)],
                                  timeout=timeout)
        if code != 0:
            raise FatalError(f"sort failed: {_last_line(err.decode('utf-8', 'replace'))}")
    finally:
        raw.unlink(missing_ok=True)


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1] if stderr.strip() else "no message"


async def head_sha(repo_dir: Path) -> str | None:
    """The commit HEAD points at, or None for an empty repository."""
    code, out, _ = await _run(
        _git("-C", str(repo_dir), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"), timeout=60
    )
    return out.decode("ascii").strip() if code == 0 else None


async def default_branch(repo_dir: Path) -> str | None:
    """The branch HEAD names (the remote's default at clone time), None if it has no commits."""
    code, out, _ = await _run(
        _git("-C", str(repo_dir), "symbolic-ref", "--quiet", "--short", "HEAD"), timeout=60
    )
    if code != 0 or await head_sha(repo_dir) is None:
        return None
    return out.decode("utf-8", "replace").strip()


# ------------------------------------------------------------------------ log


async def stream_log(
    repo_dir: Path, *, rev: str = "HEAD", since_sha: str | None = None, chunk_commits: int = 500
) -> AsyncGenerator[list[Commit], None]:
    """Commits reachable from ``rev`` (and not from ``since_sha``), newest first, in batches.

    Use it under ``contextlib.aclosing`` when the loop may stop early: closing the
    generator (or cancelling the consumer) kills git at once.
    """
    for value in (rev, since_sha):
        if value is not None and (not value or value.startswith("-") or "\x00" in value):
            raise InvalidInputError(f"invalid revision {value!r}")
    if rev == "HEAD" and await head_sha(repo_dir) is None:
        return
    spec = f"{since_sha}..{rev}" if since_sha else rev
    argv = _git("-C", str(repo_dir), *LOG_ARGS, "--end-of-options", spec, "--")
    async with aclosing(_stream(argv, None, spec, chunk_commits)) as batches:
        async for batch in batches:
            yield batch


async def stream_commits(
    repo_dir: Path, tips: Sequence[str], *, exclude: Sequence[str] = (), only: Sequence[str] | None = None,
    chunk_commits: int = 500,
) -> AsyncGenerator[list[Commit], None]:
    """Commits reachable from ``tips`` but not from ``exclude`` (git's own exclusion, one walk),
    or, with ``only``, exactly those commits. In batches, like :func:`stream_log`.

    The object names go to git on stdin, so thousands of branches fit no command line."""
    names = [*tips, *exclude, *(only or ())]
    if bad := next((n for n in names if not is_sha(n)), None):
        raise InvalidInputError(f"invalid object name {bad!r}")
    if only is not None:
        if not only:
            return
        args, lines, spec = ["--no-walk=unsorted"], list(only), f"{len(only)} commits"
    else:
        if not tips:
            return
        lines = [*tips, *(f"^{sha}" for sha in exclude)]  # git 2.39 takes no --not on stdin
        args, spec = [], f"{len(tips)} tips --not {len(exclude)}"
    argv = _git("-C", str(repo_dir), *LOG_ARGS, *args, "--stdin")
    async with aclosing(_stream(argv, "".join(f"{line}\n" for line in lines).encode(), spec, chunk_commits)) as batches:
        async for batch in batches:
            yield batch


async def _stream(
    argv: Sequence[str], stdin: bytes | None, spec: str, chunk_commits: int
) -> AsyncGenerator[list[Commit], None]:
    proc = await _spawn(argv, _env(False), stdin=stdin is not None)
    assert proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.create_task(_tail(proc.stderr))
    # git reads every revision from stdin before it prints anything, so writing it all first
    # cannot deadlock against the output pipe.
    feed = asyncio.create_task(_feed(proc, stdin)) if stdin is not None else None
    parser = LogParser()
    pending: list[Commit] = []
    try:
        while chunk := await proc.stdout.read(_READ_SIZE):
            pending += parser.feed(chunk)
            while len(pending) >= chunk_commits:
                batch, pending = pending[:chunk_commits], pending[chunk_commits:]
                yield batch
        code = await proc.wait()
        err = await stderr_task
        if code != 0:
            raise _log_failure(spec, err)
        pending += parser.close()
        while pending:
            batch, pending = pending[:chunk_commits], pending[chunk_commits:]
            yield batch
    finally:
        await _kill(proc)
        stderr_task.cancel()
        if feed is not None:
            feed.cancel()


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # git stopped early; its exit status tells why


def _log_failure(spec: str, stderr: str) -> WatershedError:
    line = redact(stderr.strip().splitlines()[-1] if stderr.strip() else "no message")
    if any(
        p in stderr.lower() for p in ("unknown revision", "bad revision", "invalid revision", "bad object")
    ):
        return InvalidInputError(f"git log: unknown revision in {spec}: {line}")
    return FatalError(f"git log failed: {line}")


async def _tail(stream: asyncio.StreamReader) -> str:
    # Drained concurrently: git blocks if nobody reads its warnings (e.g. rename limits).
    kept = b""
    while chunk := await stream.read(_READ_SIZE):
        kept = (kept + chunk)[-_STDERR_KEEP:]
    return kept.decode("utf-8", "replace")
