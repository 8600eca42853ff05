"""Incidents: severities, war rooms, linked tickets and reviews."""
