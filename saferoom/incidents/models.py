"""Incidents (overdoses, medical and non-medical events) and their timed interventions."""
