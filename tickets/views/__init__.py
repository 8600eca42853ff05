"""Server-rendered views: the agent workspace (agent.py) and the customer portal (portal.py)."""
