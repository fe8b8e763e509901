"""GitLab: the REST v4 client (I/O), wire shapes, and the pure conversion to v1 structs.
Groups' project listings so far; issues and merge requests come later."""

from shared.forge.gitlab.client import GitLabClient, Group
from shared.forge.gitlab.convert import convert_project, convert_projects
from shared.forge.gitlab.servers import GitLabServers

__all__ = ["GitLabClient", "GitLabServers", "Group", "convert_project", "convert_projects"]
