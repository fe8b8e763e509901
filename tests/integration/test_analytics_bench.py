"""bench/analytics.py end to end on a small database (``--quick``): synthetic rows loaded, the
explorer views refreshed, every 8Knot query and the leaderboards timed, one JSON line last."""

from __future__ import annotations

import json

import pytest

from bench.analytics import amain
from bench.eightknot import query_names
from shared.db.augur import EXPLORER_VIEWS
from tests.conftest import Server

pytestmark = pytest.mark.integration


async def test_the_analytics_bench_times_every_8knot_query(postgres_server: Server,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = await amain(["--quick", "--database-url", postgres_server.url])
    result = json.loads(capsys.readouterr().out.splitlines()[-1])

    assert code == 0 and result["targets_met"]
    assert (result["repos"], result["sample_size"], len(result["sample"])) == (20, 5, 5)
    assert set(result["queries"]) == set(query_names())
    for name, timing in result["queries"].items():
        assert timing["s"] is not None and timing["one_repo_s"] is not None, (name, timing)
    # The queries over collected data return rows: the generated history reaches every view 8Knot reads.
    empty = {n for n, q in result["queries"].items() if q["rows"] == 0}
    assert empty == {"ossf_score_query", "package_version_query", "repo_files_query", "repo_files_query_explorer",
                     "repo_languages_query"}  # the analysis phase does not exist yet
    assert set(result["refresh_s"]) == set(EXPLORER_VIEWS) and result["refresh_total_s"] is not None
    assert {k: v["entries"] > 0 for k, v in result["leaderboard"].items()} == {
        "global": True, "sample": True, "biggest_repo": True}
    assert result["dataset"]["rows_by_table"]["commits"] > 0
