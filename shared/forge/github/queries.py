"""GitHub GraphQL query texts. Each is validated against GitHub's schema in tests/unit.

Every query asks for ``rateLimit { cost }`` so the points a pass spends are known exactly.
Only the fragments a query uses are appended to it (GraphQL rejects unused fragments).
"""

from __future__ import annotations

_WHO = """
fragment Who on Actor {
  __typename login avatarUrl url
  ... on User { databaseId id }
  ... on Bot { databaseId id }
  ... on Mannequin { databaseId id }
  ... on Organization { databaseId id }
}
"""
_GIT_WHO = """
fragment GitWho on GitActor {
  name email date
  user { login databaseId id avatarUrl url }
}
"""
_PAGE = "fragment Page on PageInfo { hasNextPage endCursor }\n"
_REVIEWS = """
fragment Reviews on PullRequestReviewConnection {
  totalCount pageInfo { ...Page }
  nodes {
    fullDatabaseId id state authorAssociation body url submittedAt
    author { ...Who }
    commit { oid }
  }
}
"""
_COMMITS = """
fragment Commits on PullRequestCommitConnection {
  totalCount pageInfo { ...Page }
  nodes {
    commit {
      oid message additions deletions
      author { ...GitWho }
      committer { ...GitWho }
    }
  }
}
"""
_FILES = """
fragment Files on PullRequestChangedFileConnection {
  totalCount pageInfo { ...Page }
  nodes { path additions deletions changeType }
}
"""
_RATE = "rateLimit { cost remaining resetAt }"

PULL_REQUEST_CHILDREN = (
    """
query PullRequestChildren($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on PullRequest {
      id number fullDatabaseId mergeStateStatus mergeable
      mergedBy { ...Who }
      reviewRequests(first: 100) {
        nodes { requestedReviewer { __typename ... on Team { databaseId slug name } } }
      }
      reviews(first: 100) { ...Reviews }
      commits(first: 100) { ...Commits }
      files(first: 100) { ...Files }
    }
  }
  """
    + _RATE
    + "\n}\n"
    + _WHO + _GIT_WHO + _PAGE + _REVIEWS + _COMMITS + _FILES
)


def _more(connection: str, fragment_name: str, fragments: str) -> str:
    return (
        f"""
query More{fragment_name}($id: ID!, $after: String!) {{
  node(id: $id) {{
    ... on PullRequest {{ {connection}(first: 100, after: $after) {{ ...{fragment_name} }} }}
  }}
  {_RATE}
}}
"""
        + fragments
    )


# One query per further 100 children of one pull request, for the rare PR with more.
MORE_CHILDREN = {
    "reviews": _more("reviews", "Reviews", _REVIEWS + _WHO + _PAGE),
    "commits": _more("commits", "Commits", _COMMITS + _GIT_WHO + _PAGE),
    "files": _more("files", "Files", _FILES + _PAGE),
}

# Counts for the repository snapshot; connections need ``first`` even when only counted.
REPO_COUNTS = (
    """
query RepoCounts($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    openIssues: issues(states: OPEN, first: 1) { totalCount }
    closedIssues: issues(states: CLOSED, first: 1) { totalCount }
    openPulls: pullRequests(states: OPEN, first: 1) { totalCount }
    closedPulls: pullRequests(states: CLOSED, first: 1) { totalCount }
    mergedPulls: pullRequests(states: MERGED, first: 1) { totalCount }
    defaultBranchRef { target { ... on Commit { history(first: 1) { totalCount } } } }
  }
  """
    + _RATE
    + "\n}\n"
)

ALL = {"PullRequestChildren": PULL_REQUEST_CHILDREN, "RepoCounts": REPO_COUNTS,
       **{f"More{k.capitalize()}": v for k, v in MORE_CHILDREN.items()}}
