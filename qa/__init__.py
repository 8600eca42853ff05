"""Quality assurance: scorecards, sampling, reviews and calibration."""
