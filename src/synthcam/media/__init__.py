"""Video encoding and probing shared by backends, post-processing and the verifier."""
