"""Kafka adapters shared by the services: connection, record encoding, durable state."""
