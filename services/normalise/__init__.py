"""What every partner normaliser shares: the adapter port, the pipeline, and its Kafka edge."""
