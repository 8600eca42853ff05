"""Workforce management: forecasts, Erlang C staffing, schedules and on-call."""
