"""The dashboard's screens: the dashboard itself, prompts, calibration, tag picker, history, settings, help."""
