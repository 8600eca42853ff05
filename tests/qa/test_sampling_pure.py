"""Sample sizes by team size and stratified, seeded, exclusive draws (pure)."""
from collections import Counter
from datetime import date

import pytest

from qa import sampling
from qa.sampling import Candidate


@pytest.mark.parametrize(("team", "size"), [
    (1, 5), (5, 5), (6, 4), (10, 4), (11, 3), (15, 3), (16, 3), (23, 3), (24, 2), (30, 2),
    (31, 2), (200, 2),
])
def test_sample_size_by_team_size(team, size):
    assert sampling.sample_size(team) == size


def test_sample_size_ranges_match_the_guideline():
    assert {sampling.sample_size(n) for n in range(6, 16)} <= {3, 4}
    assert {sampling.sample_size(n) for n in range(16, 31)} <= {2, 3}
    with pytest.raises(ValueError):
        sampling.sample_size(0)


def _pool():
    # 4 categories × 2 priorities, 5 tickets each: 40 tickets.
    out, n = [], 1
    for cat in ("billing", "login", "api", "other"):
        for prio in (1, 3):
            for _ in range(5):
                out.append(Candidate(n, cat, prio))
                n += 1
    return out


def test_same_seed_same_sample_whatever_the_input_order():
    pool = _pool()
    a = sampling.stratified_sample(pool, 5, seed="qa:2026-W47:agent-7")
    b = sampling.stratified_sample(list(reversed(pool)), 5, seed="qa:2026-W47:agent-7")
    assert a == b and len(a) == 5


def test_another_seed_gives_another_sample():
    pool = _pool()
    samples = {tuple(sampling.stratified_sample(pool, 5, seed=f"s{i}")) for i in range(10)}
    assert len(samples) > 1


def test_stratified_takes_one_per_stratum_before_any_second():
    pool = _pool()
    by_id = {c.ticket_id: c for c in pool}
    picked = sampling.stratified_sample(pool, 8, seed=1)
    strata = Counter(by_id[t].stratum for t in picked)
    assert len(strata) == 8 and set(strata.values()) == {1}
    picked = sampling.stratified_sample(pool, 12, seed=1)
    assert sorted(Counter(by_id[t].stratum for t in picked).values()) == [1] * 4 + [2] * 4


def test_small_sample_spreads_across_categories():
    pool = _pool()
    by_id = {c.ticket_id: c for c in pool}
    for seed in range(20):
        picked = sampling.stratified_sample(pool, 4, seed=seed)
        assert len({by_id[t].stratum for t in picked}) == 4


def test_excluded_tickets_are_never_drawn_and_no_duplicates():
    pool = _pool() + _pool()[:3]  # duplicated candidates count once
    excluded = set(range(1, 31))
    picked = sampling.stratified_sample(pool, 20, seed=3, exclude=excluded)
    assert sorted(picked) == list(range(31, 41))


def test_fewer_candidates_than_wanted_gives_them_all():
    assert sorted(sampling.stratified_sample([Candidate(1), Candidate(2)], 5, seed=0)) == [1, 2]
    assert sampling.stratified_sample([Candidate(1)], 0, seed=0) == []


def test_week_seed_is_per_iso_week_and_agent():
    assert sampling.week_seed(date(2026, 11, 16), 7) == sampling.week_seed(date(2026, 11, 16), 7)
    assert sampling.week_seed(date(2026, 11, 16), 7) != sampling.week_seed(date(2026, 11, 23), 7)
    assert sampling.week_seed(date(2026, 11, 16), 7) != sampling.week_seed(date(2026, 11, 16), 8)
    assert "2026-W47" in sampling.week_seed(date(2026, 11, 16), 7)


def test_pick_reviewer_never_the_agent_and_least_loaded():
    assert sampling.pick_reviewer(5, [5], {}) is None
    assert sampling.pick_reviewer(5, [5, 9, 3], {3: 2, 9: 1}) == 9
    assert sampling.pick_reviewer(5, [9, 3], {}) == 3
