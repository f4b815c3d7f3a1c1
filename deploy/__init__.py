"""Deployment tooling: a local Kafka broker without Docker, topic creation, client settings."""
