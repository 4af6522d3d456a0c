"""Read-side reports: functions over a Workspace that return typed results the CLI, API and dashboard render."""
