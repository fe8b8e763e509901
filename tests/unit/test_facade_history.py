"""Planning a history read: old tips, new tips and git's ancestry answers in, what to log and
what to retract out. Pure: no git, no database."""

from __future__ import annotations

import random

from services.facade.history import (
    CloneState,
    committed_tips,
    cursor_stream,
    plan,
    reconcile,
    reconcile_sorted,
    why_reconcile,
)

A, B, C, F, G, OLD = (ch * 40 for ch in "abcf0e")
MAIN, FEAT = "refs/heads/main", "refs/heads/feature"


def consistent(tracked: dict[str, str], committed: dict[str, str], *, kept: set[str] | None = None) -> CloneState:
    """A clone whose last publication is what is committed: the steady state."""
    tips = frozenset(committed.values())
    return CloneState(tracked=tracked, committed=committed, kept=frozenset(kept if kept is not None else tips),
                      published=tips, present=tips)


def test_fast_forward_logs_only_the_new_commits_and_retracts_nothing() -> None:
    p = plan(consistent({MAIN: B}, {MAIN: A}), reachable={A})
    assert p.reconcile is None
    assert (p.log_from, p.log_not, p.retract_from) == ((B,), (A,), ())
    assert p.cursors == {cursor_stream(MAIN): B}
    # A stays the starting point until the job that read to B is committed.
    assert p.keep_after == {A, B}


def test_nothing_new_logs_nothing_and_moves_no_cursor() -> None:
    p = plan(consistent({MAIN: A}, {MAIN: A}), reachable={A})
    assert (p.log_from, p.log_not, p.retract_from, p.cursors) == ((A,), (A,), (), {})


def test_force_push_retracts_what_the_old_tip_alone_reached() -> None:
    p = plan(consistent({MAIN: C}, {MAIN: A}), reachable=set())
    assert p.reconcile is None
    assert p.retract_from == (A,)  # run as: rev-list A --not C
    assert (p.log_from, p.log_not) == ((C,), (A,))  # C --not A: the rewritten commits only
    assert p.cursors == {cursor_stream(MAIN): C}
    assert p.keep_after == {A, C}


def test_a_deleted_branch_is_retracted_and_its_cursor_emptied() -> None:
    p = plan(consistent({MAIN: B}, {MAIN: A, FEAT: F}), reachable={A})
    assert p.retract_from == (F,)
    assert p.cursors == {cursor_stream(MAIN): B, cursor_stream(FEAT): None}
    assert p.log_not == (A, F)


def test_a_merged_then_deleted_branch_retracts_nothing() -> None:
    p = plan(consistent({MAIN: B}, {MAIN: A, FEAT: F}), reachable={A, F})
    assert p.retract_from == ()
    assert p.cursors == {cursor_stream(MAIN): B, cursor_stream(FEAT): None}


def test_a_new_branch_is_logged_without_what_main_already_gave() -> None:
    p = plan(consistent({MAIN: A, FEAT: F}, {MAIN: A}), reachable={A})
    assert (p.log_from, p.log_not, p.retract_from) == ((A, F), (A,), ())
    assert p.cursors == {cursor_stream(FEAT): F}


def test_one_commit_on_two_branches_is_one_tip() -> None:
    p = plan(consistent({MAIN: B, FEAT: B}, {MAIN: A}), reachable={A})
    assert p.log_from == (B,)


def test_an_emptied_repository_retracts_everything() -> None:
    p = plan(consistent({}, {MAIN: A}), reachable=set())
    assert (p.log_from, p.retract_from) == ((), (A,))
    assert p.cursors == {cursor_stream(MAIN): None}


def test_incremental_ignores_kept_tips_the_committed_job_already_retracted() -> None:
    # OLD was kept for a job that has since been committed; its retraction is done.
    p = plan(consistent({MAIN: A}, {MAIN: A}, kept={OLD, A}), reachable={A})
    assert p.retract_from == ()
    assert p.keep_after == {A}  # and OLD is let go


def test_first_collection_reconciles_with_the_rows() -> None:
    state = CloneState(tracked={MAIN: A}, committed={})
    assert why_reconcile(state) == "no committed cursors"
    p = plan(state, reachable=set())
    assert p.reconcile and (p.log_from, p.log_not, p.retract_from) == ((A,), (), ())
    assert p.cursors == {cursor_stream(MAIN): A}


def test_a_full_resync_reconciles() -> None:
    state = CloneState(tracked={MAIN: A}, committed={MAIN: A}, kept=frozenset({A}), published=frozenset({A}),
                       present=frozenset({A}), full=True)
    assert why_reconcile(state) == "full resync"
    assert plan(state, reachable={A}).cursors == {}


def test_a_committed_tip_the_clone_lacks_forces_reconciliation() -> None:
    # Another replica read to A, then A was force-pushed away before this clone ever saw it.
    state = CloneState(tracked={MAIN: C}, committed={MAIN: A}, kept=frozenset({B}), published=frozenset({B}),
                       present=frozenset())
    assert why_reconcile(state) == "a committed tip is missing from the clone"
    p = plan(state, reachable=set())
    assert p.log_not == ()  # A cannot be excluded: git does not have it
    assert p.retract_from == (B,)  # what this clone once published and C does not reach
    assert p.keep_after == {C}


def test_an_uncommitted_publication_reconciles_and_retracts_from_its_tips_too() -> None:
    # The last job published B (kept), then was not committed; the remote went on to C.
    state = CloneState(tracked={MAIN: C}, committed={MAIN: A}, kept=frozenset({A, B}), published=frozenset(),
                       present=frozenset({A}))
    assert why_reconcile(state) == "the clone's last publication is not what is committed"
    p = plan(state, reachable={A})
    assert p.retract_from == (B,)
    assert p.log_not == ()
    assert p.keep_after == {A, C}


def test_pins_hold_everything_the_rows_may_come_from_and_what_is_about_to_go_out() -> None:
    state = CloneState(tracked={MAIN: C}, committed={MAIN: A, FEAT: G}, kept=frozenset({B}),
                       present=frozenset({A}))
    assert state.pins() == {A, B, C}  # G is not in the clone: nothing to pin
    assert state.bases() == {A, B}


def test_reconcile_logs_the_missing_and_retracts_the_unreachable() -> None:
    done = reconcile(reachable_now=[A, B, C], rows=[A, OLD], gone=[F, A])
    assert done.log == (B, C)
    assert done.retract == (OLD, F)  # A is reachable again: never retracted


def test_a_full_resync_logs_the_whole_history_again() -> None:
    done = reconcile(reachable_now=[A, B], rows=[A, OLD], whole=True)
    assert done.log is None
    assert done.retract == (OLD,)


def test_reconcile_without_rows_logs_the_whole_history() -> None:
    done = reconcile(reachable_now=[A, B], rows=[], gone=[F])
    assert done.log is None
    assert done.retract == (F,)


def test_committed_tips_come_from_the_facades_streams_with_a_value() -> None:
    cursors = {"git:refs/heads/main": A, "git:refs/heads/gone": None, "issues": "2024-01-01T00:00:00Z",
               "git:refs/heads/odd": "not-a-sha"}
    assert committed_tips(cursors) == {MAIN: A}


def test_the_sorted_merge_decides_as_the_sets_do() -> None:
    rng = random.Random(7)
    names = [f"{rng.getrandbits(160):040x}" for _ in range(300)]
    for trial in range(200):
        now = rng.sample(names, rng.randrange(0, 120))
        rows = rng.sample(names, rng.randrange(0, 120)) if trial % 5 else []
        gone = rng.sample(names, rng.randrange(0, 10))
        whole = trial % 7 == 0
        expected = reconcile(now, rows, gone, whole=whole)
        assert reconcile_sorted(sorted(now), sorted(rows), gone, whole=whole) == expected, trial


def test_the_sorted_merge_holds_no_list_of_the_history_it_logs_whole() -> None:
    # A generator: the merge reads it once, and without rows keeps nothing of it.
    done = reconcile_sorted((f"{i:040x}" for i in range(100_000)), iter(()), gone=[F])
    assert done.log is None and done.retract == (F,)
