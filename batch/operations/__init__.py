"""What differs per operation kind (payout, collection): the `Operation`s the engine drives."""
