"""Importers: bring a team's history over from django-helpdesk and from a Zendesk export."""
