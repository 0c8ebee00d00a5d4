"""Shared pieces of the clinic-day load test: the data set and the API keys."""
