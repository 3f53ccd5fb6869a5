"""One router per area: health, runs, the fleet (workers, streams, stats),
findings (recommendations, detections) and webhooks."""
