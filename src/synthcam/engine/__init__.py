"""The generation engine: jobs from a manifest, workers per GPU, post-processing, verification, status."""
