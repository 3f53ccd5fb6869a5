"""Detections, evidence and recommendations: what a pass writes and what people review."""
