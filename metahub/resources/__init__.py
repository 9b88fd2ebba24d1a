"""Resource specs: how each AWS resource type is listed and described, in batches."""
