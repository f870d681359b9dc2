"""Watching deployed models: endpoint monitors and drift alarms, the drift-retrain function, failed-monitor
notifications and the team dashboard."""
