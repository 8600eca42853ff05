"""Erlang C staffing math for queued work (phone, chat) and a simple model for email queues.

Pure Python (stdlib ``math`` only, no Django) so it can be used from views, Celery tasks,
management commands and scripts alike.

Notation used throughout:

* ``λ`` -- ``arrivals`` per ``interval`` (e.g. 100 contacts per 1800 s half hour)
* ``AHT`` -- average handle time in seconds
* ``A`` -- offered traffic in Erlangs: ``A = arrivals * AHT / interval``
* ``N`` -- number of agents handling the queue
* ``t`` -- service-level target in seconds (the "20" in "80/20")

The Erlang C model (M/M/N, no abandonment) gives the probability that an arrival waits::

    C(A, N) = (A^N / N! * N / (N - A)) / (sum_{k=0}^{N-1} A^k / k! + A^N / N! * N / (N - A))

Evaluating that literally overflows long before a large centre's traffic (``2000**2000`` and
``2000!`` are far outside a float), so it is computed through the Erlang B (loss) recursion,
whose values always stay in ``[0, 1]``::

    B(A, 0) = 1
    B(A, n) = A * B(A, n - 1) / (n + A * B(A, n - 1))
    C(A, N) = N * B(A, N) / (N - A * (1 - B(A, N)))         (valid for N > A)

``required_agents`` reuses the recursion incrementally: it computes ``B`` once up to the first
candidate ``N`` and then advances it one step per extra agent, so a staffing search costs
``O(N)`` arithmetic in total rather than ``O(N)`` per candidate.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = [
    "average_speed_of_answer",
    "erlang_c",
    "required_agents",
    "required_fte",
    "service_level",
]


# --------------------------------------------------------------------------- validation


def _finite(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _non_negative(name: str, value: float) -> float:
    value = _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    value = _finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _agent_count(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, Integral):
        raise ValueError(f"agents must be a whole number of agents (int), got {agents!r}")
    agents = int(agents)
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents!r}")
    return agents


def _traffic(arrivals: float, aht: float, interval: float) -> tuple[float, float]:
    """Validate the workload inputs; return ``(A, aht)`` with ``A = arrivals * aht / interval``."""
    arrivals = _non_negative("arrivals", arrivals)
    aht = _positive("aht (average handle time, seconds)", aht)
    interval = _positive("interval (seconds)", interval)
    return arrivals * aht / interval, aht


# --------------------------------------------------------------------------- core formulas


def _erlang_b(traffic: float, agents: int) -> float:
    """Erlang B blocking probability by the stable recursion ``B(n) = A·B(n−1) / (n + A·B(n−1))``.

    Every intermediate value lies in ``[0, 1]``, so this never overflows, whatever the traffic.
    """
    b = 1.0
    for n in range(1, agents + 1):
        ab = traffic * b
        b = ab / (n + ab)
    return b


def _c_from_b(traffic: float, agents: int, b: float) -> float:
    """Erlang C from Erlang B: ``C = N·B / (N − A·(1 − B))``; requires ``N > A``."""
    c = agents * b / (agents - traffic * (1.0 - b))
    # Mathematically in [0, 1]; clamp away rounding noise when N is barely above A.
    return min(1.0, max(0.0, c))


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that an arrival has to wait (Erlang C), ``C(A, N)``.

    ``traffic`` is the offered load ``A`` in Erlangs, ``agents`` the number of agents ``N``.
    Computed as ``C = N·B / (N − A·(1 − B))`` from the Erlang B recursion
    ``B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1))`` -- no factorials or powers, so it is
    stable for thousands of Erlangs.

    Returns ``1.0`` when ``agents <= traffic``: the queue is unstable and every arrival waits.

    >>> round(erlang_c(10, 12), 4)
    0.4494
    """
    traffic = _non_negative("traffic", traffic)
    agents = _agent_count(agents)
    if agents <= traffic:
        return 1.0
    return _c_from_b(traffic, agents, _erlang_b(traffic, agents))


def _service_level_from_c(
    c: float, traffic: float, agents: int, aht: float, target: float
) -> float:
    """``SL = 1 − C·exp(−(N − A)·t / AHT)``, clamped to ``[0, 1]``."""
    sl = 1.0 - c * math.exp(-(agents - traffic) * target / aht)
    return min(1.0, max(0.0, sl))


def service_level(
    arrivals: float, aht: float, interval: float, agents: int, target: float
) -> float:
    """Fraction of arrivals answered within ``target`` seconds.

    ``arrivals`` is the volume per ``interval``; ``aht``, ``interval`` and ``target`` are in
    seconds. With ``A = arrivals·AHT / interval``::

        SL = 1 − C(A, N) · exp(−(N − A) · target / AHT)

    Returns ``0.0`` when ``agents <= traffic`` (the queue grows without bound).

    >>> round(service_level(100, 180, 1800, 14, 20), 4)
    0.8884
    """
    traffic, aht = _traffic(arrivals, aht, interval)
    agents = _agent_count(agents)
    target = _non_negative("target (seconds)", target)
    if agents <= traffic:
        return 0.0
    c = _c_from_b(traffic, agents, _erlang_b(traffic, agents))
    return _service_level_from_c(c, traffic, agents, aht, target)


def average_speed_of_answer(arrivals: float, aht: float, interval: float, agents: int) -> float:
    """Average speed of answer (mean wait over *all* arrivals) in seconds.

    ``ASA = C(A, N) · AHT / (N − A)`` with ``A = arrivals·AHT / interval``.
    Returns ``math.inf`` when ``agents <= traffic``.

    >>> round(average_speed_of_answer(100, 180, 1800, 14), 2)
    7.84
    """
    traffic, aht = _traffic(arrivals, aht, interval)
    agents = _agent_count(agents)
    if agents <= traffic:
        return math.inf
    c = _c_from_b(traffic, agents, _erlang_b(traffic, agents))
    return c * aht / (agents - traffic)


# --------------------------------------------------------------------------- staffing


_SNAP = 1e-9  # relative tolerance for float noise in the shrinkage gross-up


def _apply_shrinkage(agents: int, shrinkage: float) -> int:
    """Smallest ``M`` with ``M · (1 − shrinkage) >= agents``, i.e. ``ceil(agents / (1 − s))``.

    A quotient within a relative ``1e-9`` of an integer is taken to be that integer: float
    arithmetic over-rounds exactly when the quotient should be whole -- ``21 / (1 − 0.3)`` is
    ``30.000000000000004`` and ``201 / (1 − 0.33)`` is ``300.00000000000006`` -- and a plain
    ``ceil`` would schedule one agent too many. Shrinkage derived as ``1 − 0.7`` (which is
    ``0.30000000000000004``) is handled the same way.
    """
    if shrinkage == 0.0 or agents == 0:
        return agents
    quotient = agents / (1.0 - shrinkage)
    nearest = round(quotient)
    if abs(quotient - nearest) <= _SNAP * quotient:
        return max(agents, nearest)
    return math.ceil(quotient)


def required_agents(
    arrivals: float,
    aht: float,
    interval: float,
    service_level: float,
    target: float,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> int:
    """Agents to schedule so that ``service_level`` of arrivals are answered within ``target`` s.

    Finds the smallest raw ``N`` with

    * ``SL(N) = 1 − C(A, N)·exp(−(N − A)·target / AHT) >= service_level`` and
    * occupancy ``A / N <= max_occupancy``,

    then grosses it up for shrinkage (breaks, training, absence):
    ``ceil(N / (1 − shrinkage))``. Zero arrivals need zero agents.

    The search starts at ``max(floor(A) + 1, ceil(A / max_occupancy))`` -- the first ``N > A``
    that also satisfies the occupancy cap -- and steps upward; the service level is monotonic
    in ``N``. ``B(A, N)`` is advanced incrementally between steps, so the whole search costs
    one Erlang B recursion up to the answer.

    >>> required_agents(100, 180, 1800, 0.8, 20)
    14
    >>> required_agents(100, 180, 1800, 0.8, 20, shrinkage=0.3)
    20
    """
    traffic, aht = _traffic(arrivals, aht, interval)
    sl_goal = _finite("service_level", service_level)
    if not 0.0 < sl_goal < 1.0:
        raise ValueError(f"service_level must be strictly between 0 and 1, got {service_level!r}")
    target = _non_negative("target (seconds)", target)
    max_occupancy = _finite("max_occupancy", max_occupancy)
    if not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    shrinkage = _finite("shrinkage", shrinkage)
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")

    if traffic == 0.0:
        return 0

    # First N strictly above the traffic (N = A gives an unstable queue).
    n = math.floor(traffic) + 1
    # First N meeting the occupancy cap, evaluated exactly as the check A / N <= cap is.
    by_occupancy = math.ceil(traffic / max_occupancy)
    while by_occupancy > 1 and traffic / (by_occupancy - 1) <= max_occupancy:
        by_occupancy -= 1
    while traffic / by_occupancy > max_occupancy:
        by_occupancy += 1
    n = max(n, by_occupancy)

    b = _erlang_b(traffic, n)
    while True:
        c = _c_from_b(traffic, n, b)
        if _service_level_from_c(c, traffic, n, aht, target) >= sl_goal:
            break
        n += 1
        ab = traffic * b
        b = ab / (n + ab)
    return _apply_shrinkage(n, shrinkage)


def required_fte(
    tickets_per_day: float,
    handle_minutes: float,
    productive_minutes_per_fte: float = 360,
    utilization: float = 0.65,
) -> float:
    """Full-time equivalents for a deferred (email-style) queue, where Erlang C does not apply.

    ``FTE = tickets_per_day · handle_minutes / (productive_minutes_per_fte · utilization)``

    ``productive_minutes_per_fte`` is the time per FTE per day available for queue work
    (default 6 h); ``utilization`` is the share of it realistically spent handling tickets.

    >>> round(required_fte(200, 12), 2)
    10.26
    """
    tickets_per_day = _non_negative("tickets_per_day", tickets_per_day)
    handle_minutes = _non_negative("handle_minutes", handle_minutes)
    productive = _positive("productive_minutes_per_fte", productive_minutes_per_fte)
    utilization = _finite("utilization", utilization)
    if not 0.0 < utilization <= 1.0:
        raise ValueError(f"utilization must be in (0, 1], got {utilization!r}")
    return tickets_per_day * handle_minutes / (productive * utilization)
