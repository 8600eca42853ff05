"""Erlang C staffing math: textbook values, edge cases, large centres and properties.

Reference example used below is the classic worked example popularised by Call Centre Helper
("Erlang C formula - made simple"): 100 calls per 30 minutes (1800 s), AHT 180 s, so the
traffic is A = 100 * 180 / 1800 = 10 Erlangs, with an 80/20 service-level goal. The values it
publishes (rounded to the precision shown) are:

    agents  P(wait)   SL within 20 s   ASA
    11      68.21 %   39.0 %           122.8 s
    12      44.94 %   64.0 %            40.4 s
    13      28.53 %   79.6 %            17.1 s
    14      17.41 %   88.8 %             7.8 s

so 14 agents are needed for 80/20 (13 agents give 79.6 % -- just short), and 30 % shrinkage
gives ceil(14 / 0.7) = 20 scheduled agents. Each value is recomputed by hand in the comments
next to the assertions and is checked with a 1e-3 tolerance.

An independent oracle, ``direct_erlang_c``, evaluates the textbook sum-of-terms definition in
log space (lgamma) so that it is also usable for thousands of Erlangs.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workforce import erlang
from workforce.erlang import (
    average_speed_of_answer,
    erlang_c,
    required_agents,
    required_fte,
    service_level,
)

ARRIVALS, AHT, INTERVAL = 100, 180, 1800  # -> 10 Erlangs


def direct_erlang_c(traffic: float, agents: int) -> float:
    """Textbook Erlang C, evaluated term by term in log space (independent of the B recursion).

    C = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A))
    """
    log_a = math.log(traffic)
    logs = [k * log_a - math.lgamma(k + 1) for k in range(agents)]
    log_last = agents * log_a - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    top = max(*logs, log_last)
    last = math.exp(log_last - top)
    return last / (math.fsum(math.exp(x - top) for x in logs) + last)


# --------------------------------------------------------------------------- textbook values


@pytest.mark.parametrize(
    ("agents", "published"),
    [
        # C(10, 11): B(10,11) = 0.16310, C = 11*B / (11 - 10*(1-B)) = 1.7941 / 2.6310 = 0.6821
        (11, 0.6821),
        (12, 0.4494),  # published 44.94 %
        (13, 0.2853),  # published 28.53 %
        (14, 0.1741),  # published 17.41 %
    ],
)
def test_erlang_c_textbook_ten_erlangs(agents, published):
    assert erlang_c(10, agents) == pytest.approx(published, abs=1e-3)
    assert erlang_c(10, agents) == pytest.approx(direct_erlang_c(10, agents), rel=1e-12)


def test_service_level_textbook():
    # SL = 1 - C * exp(-(N - A) * t / AHT)
    # 13 agents: 1 - 0.28527 * exp(-3 * 20 / 180) = 1 - 0.28527 * 0.71653 = 0.7956
    # (note: 0.803 is sometimes quoted for this case; the formula gives 0.7956, published 79.6 %)
    assert service_level(ARRIVALS, AHT, INTERVAL, 13, 20) == pytest.approx(0.7956, abs=1e-3)
    # 14 agents: 1 - 0.17413 * exp(-4 * 20 / 180) = 1 - 0.17413 * 0.64118 = 0.8884
    assert service_level(ARRIVALS, AHT, INTERVAL, 14, 20) == pytest.approx(0.8884, abs=1e-3)
    # 11 agents: 1 - 0.68212 * exp(-1/9) = 1 - 0.68212 * 0.89484 = 0.3896
    assert service_level(ARRIVALS, AHT, INTERVAL, 11, 20) == pytest.approx(0.3896, abs=1e-3)
    # target 0 s: SL = 1 - C (fraction answered immediately)
    assert service_level(ARRIVALS, AHT, INTERVAL, 12, 0) == pytest.approx(1 - 0.4494, abs=1e-3)


def test_average_speed_of_answer_textbook():
    # ASA = C * AHT / (N - A)
    # 14 agents: 0.17413 * 180 / 4 = 7.836 s (published 7.8 s)
    assert average_speed_of_answer(ARRIVALS, AHT, INTERVAL, 14) == pytest.approx(7.836, abs=1e-3)
    # 11 agents: 0.68212 * 180 / 1 = 122.78 s (published 122.8 s)
    assert average_speed_of_answer(ARRIVALS, AHT, INTERVAL, 11) == pytest.approx(122.781, abs=1e-3)
    # 13 agents: 0.28527 * 180 / 3 = 17.116 s
    assert average_speed_of_answer(ARRIVALS, AHT, INTERVAL, 13) == pytest.approx(17.116, abs=1e-3)


def test_second_worked_example_48_erlangs():
    # 360 calls per half hour, 4-minute calls, 55 agents, 15 s target -> A = 360*240/1800 = 48.
    # Values below are recomputed with the formula (cross-checked against the direct sum):
    # C = 0.23870, ASA = 0.23870 * 240 / 7 = 8.184 s, SL = 1 - 0.23870*exp(-7*15/240) = 0.8459,
    # occupancy 48 / 55 = 87.3 %.
    c = erlang_c(48, 55)
    assert c == pytest.approx(direct_erlang_c(48, 55), rel=1e-12)
    assert c == pytest.approx(0.2387, abs=1e-3)
    assert average_speed_of_answer(360, 240, 1800, 55) == pytest.approx(8.184, abs=1e-3)
    assert service_level(360, 240, 1800, 55, 15) == pytest.approx(0.8459, abs=1e-3)


# --------------------------------------------------------------------------- required_agents


def test_required_agents_textbook_80_20():
    # 13 agents reach 79.56 % < 80 %, 14 reach 88.84 %.
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 20) == 14
    # A goal of 79 % is met by 13 agents (79.56 %) but not by 12 (64.0 %).
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.79, 20) == 13


def test_required_agents_occupancy_cap_raises_n():
    # 14 agents meet 80/20 but run at 10/14 = 71.4 % occupancy; a 70 % cap needs
    # ceil(10 / 0.7) = 15 agents (66.7 %).
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 20, max_occupancy=0.7) == 15
    # A loose cap changes nothing.
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 20, max_occupancy=0.9) == 14
    # A cap landing exactly on an integer: 10 Erlangs at 50 % -> exactly 20 agents.
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.5, 20, max_occupancy=0.5) == 20


def test_required_agents_shrinkage():
    # 13 raw agents with 30 % shrinkage: ceil(13 / 0.7) = ceil(18.57) = 19
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.79, 20, shrinkage=0.3) == 19
    # 14 raw agents (80/20) with 30 % shrinkage: 14 / 0.7 = 20 exactly
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 20, shrinkage=0.3) == 20
    # Occupancy cap first (15), then shrinkage: ceil(15 / 0.7) = ceil(21.43) = 22
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 20, max_occupancy=0.7, shrinkage=0.3) == 22


SHRINKAGE_DECIMALS = ["0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.33", "0.35", "0.5", "0.999"]


@pytest.mark.parametrize(
    ("shrinkage", "exact"),
    [(float(f), f) for f in map(Fraction, SHRINKAGE_DECIMALS)]
    # shrinkage derived from an availability ratio carries float noise: 1 - 0.7 != 0.3
    + [(1 - 0.7, Fraction(3, 10)), (1 - 0.85, Fraction(15, 100)), (0.1 + 0.2, Fraction(3, 10))],
)
def test_shrinkage_rounding_is_exact(shrinkage, exact):
    # float: 21 / (1 - 0.3) == 30.000000000000004 and 201 / (1 - 0.33) == 300.00000000000006;
    # a plain ceil would schedule 31 and 301 instead of 30 and 300.
    for raw in range(0, 3000):
        assert erlang._apply_shrinkage(raw, shrinkage) == math.ceil(raw / (1 - exact)), raw


def test_required_agents_starts_above_integer_traffic():
    # Exactly 10 Erlangs: N = 10 is unstable, so even a lax goal needs N >= 11.
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.01, 20) == 11
    # Fractional traffic 10.5: first candidate is 11.
    assert required_agents(105, 180, 1800, 0.01, 20) == 11


def test_required_agents_high_goal_and_long_target():
    # Tighter goals need more agents; longer targets need fewer (or the same).
    ns = [required_agents(ARRIVALS, AHT, INTERVAL, g, 20) for g in (0.5, 0.8, 0.9, 0.95, 0.99)]
    assert ns == sorted(ns)
    assert ns[-1] > ns[0]
    assert required_agents(ARRIVALS, AHT, INTERVAL, 0.8, 60) <= 14


# --------------------------------------------------------------------------- edge cases


def test_overloaded_queue():
    assert erlang_c(10, 10) == 1.0
    assert erlang_c(10, 5) == 1.0
    assert erlang_c(10.5, 10) == 1.0
    assert erlang_c(3, 0) == 1.0
    assert average_speed_of_answer(ARRIVALS, AHT, INTERVAL, 10) == math.inf
    assert average_speed_of_answer(ARRIVALS, AHT, INTERVAL, 3) == math.inf
    assert service_level(ARRIVALS, AHT, INTERVAL, 10, 20) == 0.0
    assert service_level(ARRIVALS, AHT, INTERVAL, 0, 20) == 0.0


def test_zero_traffic():
    assert erlang_c(0, 1) == 0.0
    assert erlang_c(0, 0) == 1.0  # agents <= traffic convention
    assert service_level(0, AHT, INTERVAL, 1, 20) == 1.0
    assert average_speed_of_answer(0, AHT, INTERVAL, 1) == 0.0
    assert required_agents(0, AHT, INTERVAL, 0.8, 20) == 0
    assert required_agents(0, AHT, INTERVAL, 0.8, 20, max_occupancy=0.5, shrinkage=0.3) == 0


def test_single_agent_is_mm1():
    # M/M/1: C = rho, ASA = rho * AHT / (1 - rho)
    assert erlang_c(0.5, 1) == pytest.approx(0.5)
    assert average_speed_of_answer(5, 180, 1800, 1) == pytest.approx(0.5 * 180 / 0.5)


def test_integral_agent_types_accepted():
    assert erlang_c(10, True + 13) == erlang_c(10, 14)


# --------------------------------------------------------------------------- large centres


@pytest.mark.parametrize("traffic", [2000, 2500, 2000.5])
def test_large_centre_is_stable(traffic):
    for agents in (int(traffic) + 1, int(traffic) + 10, int(traffic) + 45, int(traffic) + 200):
        c = erlang_c(traffic, agents)
        assert math.isfinite(c)
        assert 0.0 <= c <= 1.0
        assert c == pytest.approx(direct_erlang_c(traffic, agents), rel=1e-9, abs=1e-15)
        # interval 1800 s, AHT 300 s -> arrivals = traffic * 1800 / 300
        sl = service_level(traffic * 6, 300, 1800, agents, 20)
        assert 0.0 <= sl <= 1.0
        asa = average_speed_of_answer(traffic * 6, 300, 1800, agents)
        assert math.isfinite(asa) and asa >= 0.0


@pytest.mark.parametrize("traffic", [2000, 2500, 20000])
def test_large_centre_required_agents(traffic):
    n = required_agents(traffic * 6, 300, 1800, 0.8, 20)
    # Square-root staffing: the safety margin grows like sqrt(A), so a few dozen agents
    # above 2,000 Erlangs, not hundreds.
    assert traffic < n <= traffic + 2 * math.sqrt(traffic)
    assert service_level(traffic * 6, 300, 1800, n, 20) >= 0.8
    assert service_level(traffic * 6, 300, 1800, n - 1, 20) < 0.8


# --------------------------------------------------------------------------- required_fte


def test_required_fte_example():
    # 200 tickets/day * 12 min / (360 min * 0.65) = 2400 / 234 = 10.256
    assert required_fte(200, 12) == pytest.approx(10.256, abs=1e-3)
    assert required_fte(200, 12, productive_minutes_per_fte=480, utilization=1.0) == 5.0
    assert required_fte(0, 12) == 0.0


# --------------------------------------------------------------------------- validation

BAD_CALLS = [
    ("traffic", lambda: erlang_c(-1, 5)),
    ("traffic", lambda: erlang_c(math.nan, 5)),
    ("agents", lambda: erlang_c(5, -1)),
    ("agents", lambda: erlang_c(5, 5.5)),
    ("arrivals", lambda: service_level(-1, 180, 1800, 5, 20)),
    ("aht", lambda: service_level(100, 0, 1800, 5, 20)),
    ("aht", lambda: service_level(100, -180, 1800, 5, 20)),
    ("interval", lambda: service_level(100, 180, 0, 5, 20)),
    ("interval", lambda: service_level(100, 180, -1800, 5, 20)),
    ("target", lambda: service_level(100, 180, 1800, 12, -1)),
    ("arrivals", lambda: service_level(math.inf, 180, 1800, 12, 20)),
    ("arrivals", lambda: average_speed_of_answer(-5, 180, 1800, 12)),
    ("interval", lambda: average_speed_of_answer(100, 180, 0, 12)),
    ("service_level", lambda: required_agents(100, 180, 1800, 0, 20)),
    ("service_level", lambda: required_agents(100, 180, 1800, 1, 20)),
    ("service_level", lambda: required_agents(100, 180, 1800, 1.2, 20)),
    ("service_level", lambda: required_agents(100, 180, 1800, -0.5, 20)),
    ("target", lambda: required_agents(100, 180, 1800, 0.8, -20)),
    ("shrinkage", lambda: required_agents(100, 180, 1800, 0.8, 20, shrinkage=1.0)),
    ("shrinkage", lambda: required_agents(100, 180, 1800, 0.8, 20, shrinkage=-0.1)),
    ("max_occupancy", lambda: required_agents(100, 180, 1800, 0.8, 20, max_occupancy=0)),
    ("max_occupancy", lambda: required_agents(100, 180, 1800, 0.8, 20, max_occupancy=1.01)),
    ("aht", lambda: required_agents(100, 0, 1800, 0.8, 20)),
    ("arrivals", lambda: required_agents(-100, 180, 1800, 0.8, 20)),
    ("arrivals", lambda: required_agents("100", 180, 1800, 0.8, 20)),
    ("tickets_per_day", lambda: required_fte(-1, 12)),
    ("handle_minutes", lambda: required_fte(200, -12)),
    ("productive_minutes_per_fte", lambda: required_fte(200, 12, productive_minutes_per_fte=0)),
    ("utilization", lambda: required_fte(200, 12, utilization=0)),
    ("utilization", lambda: required_fte(200, 12, utilization=1.5)),
]


@pytest.mark.parametrize(
    ("name", "call"), BAD_CALLS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(BAD_CALLS)]
)
def test_invalid_input_raises_value_error(name, call):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- properties

traffics = st.floats(min_value=0.01, max_value=600, allow_nan=False, allow_infinity=False)
agent_counts = st.integers(min_value=0, max_value=800)
arrivals_st = st.floats(min_value=0.1, max_value=500, allow_nan=False, allow_infinity=False)
aht_st = st.floats(min_value=10, max_value=1200, allow_nan=False, allow_infinity=False)
interval_st = st.sampled_from([900, 1800, 3600])
targets = st.floats(min_value=0, max_value=300, allow_nan=False, allow_infinity=False)
goals = st.floats(min_value=0.05, max_value=0.99)
occupancies = st.floats(min_value=0.3, max_value=1.0)
shrinkages = st.floats(min_value=0.0, max_value=0.6)


@given(traffics, agent_counts)
def test_prop_erlang_c_is_a_probability_and_matches_direct_sum(traffic, agents):
    c = erlang_c(traffic, agents)
    assert 0.0 <= c <= 1.0
    if agents > traffic:
        assert c == pytest.approx(direct_erlang_c(traffic, agents), rel=1e-8, abs=1e-14)
    else:
        assert c == 1.0


@given(traffics, agent_counts)
def test_prop_erlang_c_decreases_with_agents(traffic, agents):
    assert erlang_c(traffic, agents + 1) <= erlang_c(traffic, agents)


@given(arrivals_st, aht_st, interval_st, agent_counts, targets)
def test_prop_service_level_increases_with_agents(arrivals, aht, interval, agents, target):
    sl = service_level(arrivals, aht, interval, agents, target)
    assert 0.0 <= sl <= 1.0
    assert service_level(arrivals, aht, interval, agents + 1, target) >= sl


@given(arrivals_st, aht_st, interval_st, agent_counts, targets, targets)
def test_prop_service_level_increases_with_target(arrivals, aht, interval, agents, t1, t2):
    lo, hi = sorted((t1, t2))
    assert service_level(arrivals, aht, interval, agents, hi) >= service_level(
        arrivals, aht, interval, agents, lo
    )


@given(arrivals_st, aht_st, interval_st, agent_counts)
def test_prop_asa_non_negative_and_decreasing(arrivals, aht, interval, agents):
    asa = average_speed_of_answer(arrivals, aht, interval, agents)
    assert asa >= 0.0
    assert average_speed_of_answer(arrivals, aht, interval, agents + 1) <= asa


@settings(max_examples=300)
@given(arrivals_st, aht_st, interval_st, goals, targets, occupancies)
def test_prop_required_agents_is_minimal(arrivals, aht, interval, goal, target, occupancy):
    traffic = arrivals * aht / interval
    n = required_agents(arrivals, aht, interval, goal, target, max_occupancy=occupancy)
    assert n > traffic
    assert traffic / n <= occupancy
    assert service_level(arrivals, aht, interval, n, target) >= goal
    below = n - 1
    if below > traffic and traffic / below <= occupancy:
        assert service_level(arrivals, aht, interval, below, target) < goal


@given(arrivals_st, aht_st, interval_st, goals, targets, shrinkages)
def test_prop_shrinkage_grosses_up_minimally(arrivals, aht, interval, goal, target, shrinkage):
    raw = required_agents(arrivals, aht, interval, goal, target)
    scheduled = required_agents(arrivals, aht, interval, goal, target, shrinkage=shrinkage)
    keep = 1 - shrinkage
    assert scheduled >= raw
    # enough productive agents after shrinkage (up to float noise) ...
    assert scheduled * keep >= raw * (1 - 1e-9)
    # ... and one fewer would not be
    if scheduled > raw:
        assert (scheduled - 1) * keep < raw


@given(arrivals_st, aht_st, interval_st, targets, goals, goals)
def test_prop_required_agents_monotone_in_goal(arrivals, aht, interval, target, g1, g2):
    lo, hi = sorted((g1, g2))
    assert required_agents(arrivals, aht, interval, lo, target) <= required_agents(
        arrivals, aht, interval, hi, target
    )


@given(
    st.sampled_from(["arrivals", "aht", "interval", "target"]),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
)
def test_prop_negative_inputs_raise(field, bad):
    kwargs = {"arrivals": 100.0, "aht": 180.0, "interval": 1800.0, "target": 20.0}
    kwargs[field] = bad
    with pytest.raises(ValueError, match=field):
        service_level(kwargs["arrivals"], kwargs["aht"], kwargs["interval"], 12, kwargs["target"])
    with pytest.raises(ValueError, match=field):
        required_agents(
            kwargs["arrivals"], kwargs["aht"], kwargs["interval"], 0.8, kwargs["target"]
        )


@given(st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan)))
def test_prop_service_level_goal_outside_open_unit_interval_raises(goal):
    with pytest.raises(ValueError, match="service_level"):
        required_agents(100, 180, 1800, goal, 20)
