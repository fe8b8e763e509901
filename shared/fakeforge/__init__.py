"""The project's fake forge: a real local HTTP server with GitHub's REST semantics, used by
tests and by `watershed demo`.

Public surface:
    FakeForge, RequestRecord, Quota             server.py: the server and its test controls
    Dataset, RepoData, generate_dataset, load_dataset, save_dataset,
    load_sample_dataset, sample_dataset_path, build_sample_dataset, SAMPLE_REPO
                                                dataset.py: what is served
    create_sample_git_repo                      gitrepo.py: deterministic git history
    demo_forge                                  demo.py: sample dataset + sample git repo
    generate_public_events                      _accounts.py: an account's public events
    FakeGitLab, GitLabDataset                   gitlab.py, gitlab_data.py: GitLab's groups and
                                                their projects (REST v4), with git
"""

from shared.fakeforge._accounts import generate_public_events
from shared.fakeforge._ratelimit import Quota
from shared.fakeforge.dataset import (
    SAMPLE_REPO,
    Dataset,
    RepoData,
    build_sample_dataset,
    generate_dataset,
    load_dataset,
    load_sample_dataset,
    sample_dataset_path,
    save_dataset,
)
from shared.fakeforge.demo import demo_forge
from shared.fakeforge.gitlab import FakeGitLab
from shared.fakeforge.gitlab_data import GitLabDataset
from shared.fakeforge.gitrepo import create_sample_git_repo
from shared.fakeforge.server import FakeForge, RequestRecord

__all__ = [
    "SAMPLE_REPO",
    "Dataset",
    "FakeForge",
    "FakeGitLab",
    "GitLabDataset",
    "Quota",
    "RepoData",
    "RequestRecord",
    "build_sample_dataset",
    "create_sample_git_repo",
    "demo_forge",
    "generate_dataset",
    "generate_public_events",
    "load_dataset",
    "load_sample_dataset",
    "sample_dataset_path",
    "save_dataset",
]
